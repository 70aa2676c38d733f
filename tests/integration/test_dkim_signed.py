"""test_dkim_signed.py - the DKIM verifier against mail signed by a real
OpenDKIM during the test.

Keys: rsa 2048 from opendkim-genkey; ed25519 from `openssl genpkey
-algorithm ed25519` (this opendkim-genkey makes rsa keys only), its p= the
raw 32-byte public key (RFC 8463 4.2) cut from openssl's DER output.
Signer: the opendkim daemon (Debian package) in signing mode, one per
algorithm, driven by miltertest (a real milter client, Lua script made per
message); the DKIM-Signature value it adds is put in front of the message
as an MTA would.  opendkim-testmsg was not used: it signs rsa-sha256 only
and cannot make l= signatures; the daemon does ed25519 and, through
BodyLengthDB, l= for one recipient (partial@example.net).
Keys are served by a real unbound on loopback (loopback_dns.py); the
verifier runs through tests/tools/dkim_check.

Cases: rsa-sha256 and ed25519-sha256 pass (aligned_ok); body changed ->
fail; a signed header changed -> fail; l= and text appended after the
signed body -> pass but not aligned_ok; l= with nothing appended -> pass,
aligned_ok; key name NXDOMAIN -> permerror (RFC 6376 6.1.2); key lookup
SERVFAIL (timing-out authority) -> temperror; the body fed one byte at a
time -> the same verdicts; the message with bare LF line ends, as
libmilter gives it -> pass.
"""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import loopback_dns as ld  # noqa: E402

DOMAINS = ("example.com", "gone.example", "slow.example")
BODY = "Hello there.\r\n\r\nSecond paragraph, with  two spaces.\r\n"
HEADERS = [("From", "User <user@%s>"), ("To", "rcpt@example.net"),
           ("Subject", "cutover dkim test"),
           ("Date", "Mon, 23 Nov 2026 09:00:00 +0000"),
           ("Message-ID", "<t1@%s>")]


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') \
        .replace("\r", "\\r").replace("\n", "\\n") + '"'


class Signer:
    """An opendkim daemon in signing mode on 127.0.0.1:port."""

    def __init__(self, work, name, keyfile, selector, alg):
        self.port = h.free_port()
        self.dir = os.path.join(work, name)
        os.mkdir(self.dir)
        self.pidfile = os.path.join(self.dir, "pid")
        conf = os.path.join(self.dir, "opendkim.conf")
        with open(conf, "w") as f:
            f.write("Syslog no\nMode s\nSocket inet:%d@127.0.0.1\n"
                    "Domain %s\nSelector %s\nKeyFile %s\n"
                    "SignatureAlgorithm %s\nCanonicalization relaxed/simple\n"
                    "RequireSafeKeys no\nBodyLengthDB csl:partial@example.net\n"
                    "PidFile %s\n" % (self.port, ",".join(DOMAINS), selector,
                                      keyfile, alg, self.pidfile))
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen([h.need_tool("opendkim"), "-f", "-x",
                                      conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        h.wait_for(self.ready, timeout=10, what="opendkim to listen")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("opendkim exited: %s" % open(
                os.path.join(self.dir, "log")).read())
        try:
            import socket
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    def sign(self, domain, rcpt="rcpt@example.net", body=BODY):
        """The DKIM-Signature value for the message (headers, body)."""
        hdrs = [(n, v % domain if "%s" in v else v) for n, v in HEADERS]
        lines = ['conn = mt.connect("inet:%d@127.0.0.1", 5, 1)' % self.port,
                 'if conn == nil then error("no connection") end',
                 'mt.conninfo(conn, "localhost", "127.0.0.1")',
                 'mt.macro(conn, SMFIC_MAIL, "i", "T%d")' % self.port,
                 'mt.mailfrom(conn, "<user@%s>")' % domain,
                 'mt.rcptto(conn, %s)' % lua_str("<%s>" % rcpt)]
        lines += ["mt.header(conn, %s, %s)" % (lua_str(n), lua_str(v))
                  for n, v in hdrs]
        lines += ["mt.eoh(conn)", "mt.bodystring(conn, %s)" % lua_str(body),
                  "mt.eom(conn)",
                  'local v = mt.getheader(conn, "DKIM-Signature", 0)',
                  'if v == nil then error("no signature added") end',
                  'print("BEGIN" .. v .. "END")', "mt.disconnect(conn)"]
        script = os.path.join(self.dir, "sign.lua")
        with open(script, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = h.run([h.need_tool("miltertest"), "-s", script], timeout=30)
        m = re.search(r"BEGIN(.*)END", r.stdout, re.S)
        if r.returncode != 0 or m is None:
            raise AssertionError("miltertest: %s %s" % (r.stdout, r.stderr))
        return m.group(1), hdrs

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


def genkeys(work):
    """-> (rsa keyfile, rsa TXT text, ed25519 keyfile, ed25519 TXT text)."""
    r = h.run([h.need_tool("opendkim-genkey"), "--bits=2048",
               "--domain=example.com", "--selector=rsa1",
               "--directory=" + work], timeout=60)
    if r.returncode != 0:
        raise AssertionError("opendkim-genkey: " + r.stderr)
    with open(os.path.join(work, "rsa1.txt")) as f:
        rsa_txt = "".join(re.findall(r'"([^"]*)"', f.read()))
    ed = os.path.join(work, "ed1.pem")
    openssl = h.need_tool("openssl")
    r = h.run([openssl, "genpkey", "-algorithm", "ed25519", "-out", ed])
    if r.returncode != 0:
        raise AssertionError("openssl genpkey: " + r.stderr)
    r = subprocess.run([openssl, "pkey", "-in", ed, "-pubout", "-outform",
                        "DER"], capture_output=True, timeout=30)
    if r.returncode != 0 or len(r.stdout) != 44:
        raise AssertionError("openssl pkey: %r" % r.stderr)
    ed_txt = "v=DKIM1; k=ed25519; p=" + base64.b64encode(r.stdout[-32:]) \
        .decode()
    return os.path.join(work, "rsa1.private"), rsa_txt, ed, ed_txt


def message(sig, hdrs, body):
    head = "DKIM-Signature:" + sig.replace("\r\n", "\n").replace("\n", "\r\n")
    return ("\r\n".join([head] + ["%s: %s" % hv for hv in hdrs]) +
            "\r\n\r\n" + body).encode()


class DkimSigned(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="cutover-dkim-")
        rsa_key, rsa_txt, ed_key, ed_txt = genkeys(cls.work)
        recs = [("rsa1._domainkey.example.com", "TXT", rsa_txt),
                ("ed1._domainkey.example.com", "TXT", ed_txt),
                ("example.com", "A", "192.0.2.1"),
                ("slow.example", "A", "192.0.2.2")]
        cls.dns = ld.LoopbackDNS(recs, [("_domainkey.slow.example", None)])
        cls.signers = []
        cls.dns.start()
        try:
            cls.rsa = Signer(cls.work, "rsa", rsa_key, "rsa1",
                             "rsa-sha256")
            cls.signers.append(cls.rsa)
            cls.ed = Signer(cls.work, "ed", ed_key, "ed1", "ed25519-sha256")
            cls.signers.append(cls.ed)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.signers:
            s.stop()
        cls.dns.stop()
        subprocess.run(["rm", "-rf", cls.work], timeout=30)

    def verify(self, raw, chunk=4096, lf=False):
        path = os.path.join(self.work, "msg-%d.eml" % time.monotonic_ns())
        with open(path, "wb") as f:
            f.write(raw.replace(b"\r\n", b"\n") if lf else raw)
        tool = os.path.join(h.env_path("CUTOVER_BUILD_DIR"), "tools",
                            "dkim_check")
        r = subprocess.run([tool, "-c", str(chunk)] + (["-l"] if lf else [])
                           + [self.dns.resolver, path],
                           capture_output=True, text=True, timeout=60,
                           env=h.sanitizer_env())
        if r.returncode != 0 or h.sanitizer_report(r.stderr):
            raise AssertionError("dkim_check: %s" % r.stderr)
        sigs = json.loads(r.stdout)["sigs"]
        self.assertEqual(len(sigs), 1, sigs)
        return sigs[0]

    def check(self, sig, result, alg, aligned, partial=False):
        self.assertEqual((sig["result"], sig["alg"], sig["aligned_ok"],
                          sig["body_partial"]),
                         (result, alg, aligned, partial), sig)

    def test_rsa_pass(self):
        sig, hdrs = self.rsa.sign("example.com")
        got = self.verify(message(sig, hdrs, BODY))
        self.check(got, "pass", "rsa-sha256", True)
        self.assertEqual((got["d"], got["s"]), ("example.com", "rsa1"))
        self.assertEqual(self.verify(message(sig, hdrs, BODY), chunk=1), got)

    def test_ed25519_pass(self):
        sig, hdrs = self.ed.sign("example.com")
        got = self.verify(message(sig, hdrs, BODY))
        self.check(got, "pass", "ed25519-sha256", True)
        self.assertEqual((got["d"], got["s"]), ("example.com", "ed1"))
        self.assertEqual(self.verify(message(sig, hdrs, BODY), chunk=1), got)

    def test_bare_lf(self):
        # as libmilter hands a message over: folds and lines end in LF
        for signer, alg in ((self.rsa, "rsa-sha256"),
                            (self.ed, "ed25519-sha256")):
            sig, hdrs = signer.sign("example.com")
            got = self.verify(message(sig, hdrs, BODY), chunk=3, lf=True)
            self.check(got, "pass", alg, True)

    def test_body_tampered(self):
        for signer, alg in ((self.rsa, "rsa-sha256"),
                            (self.ed, "ed25519-sha256")):
            sig, hdrs = signer.sign("example.com")
            got = self.verify(message(sig, hdrs, BODY.replace("Hello",
                                                              "Hullo")))
            self.check(got, "fail", alg, False)

    def test_header_tampered(self):
        for signer, alg in ((self.rsa, "rsa-sha256"),
                            (self.ed, "ed25519-sha256")):
            sig, hdrs = signer.sign("example.com")
            hdrs = [(n, "changed" if n == "Subject" else v) for n, v in hdrs]
            got = self.verify(message(sig, hdrs, BODY))
            self.check(got, "fail", alg, False)

    def test_l_tag(self):
        for signer, alg in ((self.rsa, "rsa-sha256"),
                            (self.ed, "ed25519-sha256")):
            sig, hdrs = signer.sign("example.com", rcpt="partial@example.net")
            self.assertRegex(sig, r"\bl=\d+;")
            got = self.verify(message(sig, hdrs, BODY))
            self.check(got, "pass", alg, True)
            got = self.verify(message(sig, hdrs, BODY +
                                      "Appended: click here\r\n"))
            self.check(got, "pass", alg, False, partial=True)

    def test_key_nxdomain(self):
        sig, hdrs = self.rsa.sign("gone.example")
        got = self.verify(message(sig, hdrs, BODY))
        self.check(got, "permerror", "rsa-sha256", False)
        self.assertEqual(got["d"], "gone.example")

    def test_key_timeout(self):
        sig, hdrs = self.ed.sign("slow.example")
        got = self.verify(message(sig, hdrs, BODY))
        self.check(got, "temperror", "ed25519-sha256", False)


if __name__ == "__main__":
    h.main()
