"""test_milter.py - cutover-milter driven by miltertest (a real milter client).

Set-up (once): DKIM keys made now (opendkim-genkey: RSA for rsa.example and
len.example; openssl: ed25519 for ed.example), a LoopbackDNS (unbound on
loopback) serving the SPF, DKIM and DMARC records of milter_harness.zone()
with tmp.example answering SERVFAIL (a timing-out authority), three real
OpenDKIM signers (rsa-sha256, ed25519-sha256, rsa-sha256 with l=), and
cutover-milter on inet:PORT@127.0.0.1 with dmarc_reject = reject,
temperror = tempfail, trusted_peers = 127.0.0.1.

Each test signs (or not) a message, runs one Lua script of
tests/integration/milter/ (the action checks: reply code, inserted or
deleted fields, quarantine) and checks the Authentication-Results value
the script echoes.  Scenarios: pass, DMARC reject, quarantine, forged A-R
removal, multiple From, missing From, ed25519, l= (pass but not aligned),
temperror, trusted peer, SMTP AUTH submission, a broken signature; and
SIGHUP reload (good and bad file) and -n on its own instance.  The
milter's own sockets, taken from the running process with pidfd_getfd(2):
TCP_NODELAY on the listening socket and on an accepted connection.
"""

import ctypes
import os
import re
import shutil
import socket
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "milter"))
import cutover_harness as h  # noqa: E402
import loopback_dns  # noqa: E402
import milter_harness as mh  # noqa: E402

ACTIONS = ("trusted_peers = { \"127.0.0.1\", \"::1\" }\n"
           "action { dmarc_reject = reject  temperror = tempfail }\n")
REJECT_TEXT = "DMARC policy of reject.example rejects this message"


class MilterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="cutover-milter-test-")
        cls.cleanups = []
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        cls.keys = mh.Keys(cls.dir)
        cls.dns = loopback_dns.LoopbackDNS(
            records=mh.zone(cls.keys), timeouts=[("tmp.example", None)]).start()
        cls.cleanups.append(cls.dns.stop)
        k = cls.keys
        cls.rsa = mh.Signer("rsa.example", "rsa", k.rsa)
        cls.cleanups.append(cls.rsa.stop)
        cls.ed = mh.Signer("ed.example", "ed", k.ed, alg="ed25519-sha256")
        cls.cleanups.append(cls.ed.stop)
        cls.len = mh.Signer("len.example", "len", k.len, body_length=True)
        cls.cleanups.append(cls.len.stop)
        cls.milter = mh.Milter(ACTIONS, cls.dns.resolver).start()
        cls.cleanups.append(cls.milter.stop)

    @classmethod
    def tearDownClass(cls):
        errors = []
        for fn in reversed(cls.cleanups):
            try:
                fn()
            except Exception as e:  # report every failed stop
                errors.append(str(e))
        shutil.rmtree(cls.dir, ignore_errors=True)
        if errors:
            raise AssertionError("; ".join(errors))

    def run_script(self, script, text, mailfrom, ip=mh.CLIENT_IP,
                   milter=None, **extra):
        path = os.path.join(self.dir, "msg-%s.eml" % self.id().split(".")[-1])
        with open(path, "w") as f:
            f.write(text)
        milter = milter or self.milter
        rc, out = mh.miltertest(script, SOCKET=milter.socket, MSG=path, IP=ip,
                                HELO="client.example", MAILFROM="<%s>" % mailfrom,
                                RCPT="rcpt@dest.example", **extra)
        milter.check_alive()
        self.assertEqual(rc, 0, "miltertest %s failed:\n%s\nmilter log:\n%s"
                         % (script, out, milter.log_text()))
        m = re.search(r"^AR:(.*)$", out, re.M)
        return m.group(1).replace("\\n", "\n") if m else out

    def assert_ar(self, ar, *patterns):
        flat = re.sub(r"\s+", " ", ar)
        self.assertTrue(flat.startswith(" " + mh.AUTHSERV_ID + ";"), flat)
        for p in patterns:
            self.assertRegex(flat, p)

    def test_pass_spf_and_dkim(self):
        text = self.rsa.sign(mh.message("<a@rsa.example>", "pass"), "a@rsa.example")
        ar = self.run_script("accept.lua", text, "a@rsa.example")
        self.assert_ar(ar, r"spf=pass smtp\.mailfrom=a@rsa\.example",
                       r"dkim=pass header\.d=rsa\.example header\.s=rsa "
                       r"header\.b=\S{8,}",
                       r"dmarc=pass \(p=reject dis=none\) "
                       r"header\.from=rsa\.example policy\.dmarc=reject")
        self.assertNotIn("\r", ar)

    def test_fail_is_rejected(self):
        text = mh.message("<a@reject.example>", "reject")
        out = self.run_script("reject.lua", text, "a@reject.example",
                              TEXT=REJECT_TEXT)
        self.assertIn("REPLY:550 5.7.1", out)
        h.wait_for(lambda: "dmarc=fail" in self.milter.log_text() and
                   "action=reject" in self.milter.log_text(), 5.0,
                   "the verdict log line")

    def test_quarantine(self):
        text = mh.message("<a@quar.example>", "quarantine")
        ar = self.run_script("quarantine.lua", text, "a@quar.example")
        self.assert_ar(ar, r"spf=fail", r"dkim=none",
                       r"dmarc=fail \(p=quarantine dis=quarantine\) "
                       r"header\.from=quar\.example")

    def test_forged_authentication_results_removed(self):
        base = mh.message("<a@rsa.example>", "forged", extra=[
            "Authentication-Results: other.example; spf=pass",
            "Authentication-Results: %s; dmarc=pass" % mh.AUTHSERV_ID])
        text = self.rsa.sign(base, "a@rsa.example")
        ar = self.run_script("accept.lua", text, "a@rsa.example", FORGED="1")
        self.assert_ar(ar, r"dkim=pass", r"dmarc=pass")

    def test_multiple_from_is_permerror(self):
        text = self.rsa.sign(mh.message(["<a@rsa.example>", "<b@rsa.example>"],
                                        "multi"), "a@rsa.example")
        ar = self.run_script("accept.lua", text, "a@rsa.example")
        self.assert_ar(ar, r"dmarc=permerror")
        self.assertNotIn("dmarc=pass", ar)

    def test_several_mailboxes_is_permerror(self):
        text = mh.message("<a@rsa.example>, <b@rsa.example>", "mailboxes")
        ar = self.run_script("accept.lua", text, "a@rsa.example")
        self.assert_ar(ar, r"spf=pass", r"dmarc=permerror")

    def test_missing_from_is_permerror(self):
        text = mh.message(None, "nofrom")
        ar = self.run_script("accept.lua", text, "a@rsa.example")
        self.assert_ar(ar, r"spf=pass", r"dmarc=permerror")
        self.assertNotIn("header.from", ar)

    def test_ed25519(self):
        text = self.ed.sign(mh.message("<a@ed.example>", "ed"), "a@ed.example")
        self.assertIn("a=ed25519-sha256", text)
        ar = self.run_script("accept.lua", text, "bounce@elsewhere.example")
        self.assert_ar(ar, r"spf=pass smtp\.mailfrom=bounce@elsewhere\.example",
                       r"dkim=pass header\.d=ed\.example header\.s=ed",
                       r"dmarc=pass \(p=reject dis=none\) "
                       r"header\.from=ed\.example")

    def test_l_tag_passes_but_does_not_align(self):
        text = self.len.sign(mh.message("<a@len.example>", "len"), "a@len.example")
        self.assertRegex(text, r"\bl=\d+")
        text += "appended after signing, not covered by l=\n"
        ar = self.run_script("accept.lua", text, "a@len.example")
        self.assert_ar(ar, r"spf=fail",
                       r"dkim=pass \(partial body, not used for DMARC\) "
                       r"header\.d=len\.example",
                       r"dmarc=fail \(p=none dis=none\) header\.from=len\.example")

    def test_temperror_tempfails(self):
        text = mh.message("<a@tmp.example>", "tmp")
        out = self.run_script("tempfail.lua", text, "a@tmp.example",
                              TEXT="DMARC check failed temporarily, try "
                              "again later")
        self.assertIn("REPLY:451 4.7.5", out)

    def test_trusted_peer_is_skipped(self):
        text = mh.message("<a@reject.example>", "trusted")
        out = self.run_script("skipped.lua", text, "a@reject.example",
                              ip="127.0.0.1")
        self.assertIn("SKIPPED", out)

    def test_auth_submission_is_skipped(self):
        text = mh.message("<a@reject.example>", "authsub")
        out = self.run_script("skipped.lua", text, "a@reject.example",
                              AUTHEN="alice")
        self.assertIn("SKIPPED", out)

    def test_broken_signature_is_permerror(self):
        text = mh.message("<a@rsa.example>", "broken", extra=[
            "DKIM-Signature: v=1; a=rsa-sha256; d=rsa.example; garbage \x01"])
        text = "DKIM-Signature: v=1; nonsense\n" + text
        ar = self.run_script("accept.lua", text, "a@rsa.example")
        self.assert_ar(ar, r"spf=pass", r"dkim=permerror",
                       r"dmarc=pass")

    def test_null_sender_uses_helo(self):
        text = mh.message("<a@rsa.example>", "nullsender")
        path = os.path.join(self.dir, "null.eml")
        with open(path, "w") as f:
            f.write(text)
        rc, out = mh.miltertest("accept.lua", SOCKET=self.milter.socket,
                                MSG=path, IP=mh.CLIENT_IP, HELO="rsa.example",
                                MAILFROM="<>", RCPT="rcpt@dest.example")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"spf=pass smtp\.helo=rsa\.example")


class MilterReloadTest(unittest.TestCase):
    """SIGHUP: a good file takes effect for new connections; a bad one is
    logged with its line and the running configuration stays."""

    def setUp(self):
        self.dns = loopback_dns.LoopbackDNS(records=[
            ("reject.example", "TXT", "v=spf1 -all"),
            ("_dmarc.reject.example", "TXT", "v=DMARC1; p=reject")]).start()
        self.addCleanup(self.dns.stop)
        self.milter = mh.Milter(ACTIONS, self.dns.resolver).start()
        self.addCleanup(self.milter.stop)
        self.dir = tempfile.mkdtemp(prefix="cutover-milter-reload-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.msg = os.path.join(self.dir, "m.eml")
        with open(self.msg, "w") as f:
            f.write(mh.message("<a@reject.example>", "reload"))

    def send(self, script):
        rc, out = mh.miltertest(script, SOCKET=self.milter.socket,
                                TEXT=REJECT_TEXT,
                                MSG=self.msg, IP=mh.CLIENT_IP,
                                HELO="client.example", MAILFROM="<a@reject.example>",
                                RCPT="rcpt@dest.example")
        self.milter.check_alive()
        self.assertEqual(rc, 0, out + self.milter.log_text())
        return out

    def test_reload_good_then_bad(self):
        self.send("reject.lua")
        self.milter.reload("action { dmarc_reject = none }\n")
        self.assertIn("reloaded", self.milter.log_text())
        self.assertRegex(self.send("accept.lua"), r"dmarc=fail")
        self.milter.reload("socket = \"%s\"\nauthserv_id = \"x\"\n"
                           "action {\n dmarc_reject = maybe\n}\n"
                           % self.milter.socket, raw=True)
        self.assertRegex(self.milter.log_text(),
                         r"reload failed, keeping the running configuration: "
                         r"\S+milter\.conf:4: dmarc_reject \"maybe\" must be "
                         r"none or quarantine or reject")
        self.assertRegex(self.send("accept.lua"), r"dmarc=fail")


SYS_PIDFD_GETFD = 438          # x86_64 and most others (asm-generic)


def proc_tcp_inodes(pid, local_port, state, remote_port=None):
    """Socket inodes in /proc/PID/net/tcp with that local port and state
    ("0A" listen, "01" established) and, if given, remote port."""
    found = set()
    with open("/proc/%d/net/tcp" % pid) as f:
        next(f)
        for line in f:
            w = line.split()
            lport = int(w[1].split(":")[1], 16)
            rport = int(w[2].split(":")[1], 16)
            if lport == local_port and w[3] == state and \
                    (remote_port is None or rport == remote_port):
                found.add(w[9])
    return found


def socket_of(pid, inodes):
    """A duplicate (in this process) of PID's descriptor for one of the
    socket inodes, via pidfd_getfd(2); None when none is found."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", link)
        if not m or m.group(1) not in inodes:
            continue
        libc = ctypes.CDLL(None, use_errno=True)
        pidfd = os.pidfd_open(pid)
        try:
            dup = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
        finally:
            os.close(pidfd)
        if dup < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return socket.socket(fileno=dup)
    return None


class MilterSocketTest(unittest.TestCase):
    """TCP_NODELAY: at end of message libmilter writes the header change
    and the verdict as separate packets; with Nagle the verdict waited for
    the MTA's delayed ACK (40 ms a message).  Checked on the listening
    socket and on a connection it accepted, in the running milter."""

    def setUp(self):
        self.milter = mh.Milter("", "127.0.0.1@9").start()
        self.addCleanup(self.milter.stop)

    def nodelay(self, sock):
        try:
            return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            sock.close()

    def test_listener_and_accepted_connection_have_nodelay(self):
        pid, port = self.milter.proc.pid, self.milter.port
        lst = socket_of(pid, proc_tcp_inodes(pid, port, "0A"))
        self.assertIsNotNone(lst, "no listening socket on %d" % port)
        self.assertEqual(self.nodelay(lst), 1)
        with socket.create_connection(("127.0.0.1", port), 5) as c:
            me = c.getsockname()[1]
            acc = h.wait_for(lambda: socket_of(pid, proc_tcp_inodes(
                pid, port, "01", me)), 5.0, "the accepted connection")
            self.assertEqual(self.nodelay(acc), 1)
        self.milter.check_alive()


class MilterCheckModeTest(unittest.TestCase):
    """cutover-milter -n: the shipped reference file passes; errors are
    one line FILE:LINE: what."""

    def test_reference_config_passes(self):
        conf = os.path.join(h.env_path("CUTOVER_SOURCE_DIR"), "conf",
                            "cutover-milter.conf")
        r = h.run([mh.milter_path(), "-n", "-c", conf],
                  env=h.sanitizer_env())
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))

    def test_bad_config_names_file_and_line(self):
        d = tempfile.mkdtemp(prefix="cutover-milter-n-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "bad.conf")
        with open(path, "w") as f:
            f.write('socket = "inet:1@127.0.0.1"\n# c\nauthserv_id = "a b"\n')
        r = h.run([mh.milter_path(), "-n", "-c", path], env=h.sanitizer_env())
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "%s:3: authserv_id \"a b\" must be a host "
                         "name (letters, digits, '.', '-', '_'; 1 to 253 "
                         "octets)\n" % path)

    def test_usage(self):
        r = h.run([mh.milter_path()], env=h.sanitizer_env())
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)


if __name__ == "__main__":
    h.main()
