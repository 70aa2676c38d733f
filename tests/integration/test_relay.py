"""test_relay.py - cutoverd as a live relay (issue 3), against an upstream
the test scripts (relay_peers.ScriptedUpstream).

Covers: the upstream's verdicts passed through at MAIL, RCPT, DATA and the
dot (4xx and 5xx, multi-line: same code and enhanced code on every line,
text prefixed "upstream HOST[IP]:PORT: "); upstream refused, dropping
before and during DATA, too slow (reply_timeout/data_timeout) -> 451 4.4.x;
relay_tls encrypt/verify/may (4.7.0 when TLS is required and fails); mixed
limbo/live RCPTs; 452 4.5.3 for a second next hop; upstream session reuse;
SMTP smuggling (every end-of-data look-alike is refused with 550 5.6.0 and
the upstream, which ends data as leniently as the servers smuggling
attacks target, never sees a second MAIL); dot-stuffing both ways; a
20 MiB message relayed byte-exact with cutoverd's peak RSS far below it;
the Received header (RFC 5321 4.4); recipient_map and sender_map (envelope
and From:/Sender:/Reply-To:, every other byte unchanged) with their log
lines; per-recipient overrides.  The invariant checked throughout: the
client never gets 250 for the dot unless the upstream said 250 to it.

Each test starts its own upstream(s) and cutoverd on free loopback ports.
"""

import email.utils
import datetime
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import relay_peers as rp  # noqa: E402

LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"
STAGED_REPLY = "451 4.3.2 staged.test is moving, please retry later"
MOVED_REPLY = "451 4.3.2 moved.test: this mailbox is still moving"
SENDER = "sender@example.org"
LOCAL_4XX = re.compile(r"^451 4\.4\.\d{1,3} ")
TLS_4XX = re.compile(r"^451 4\.7\.0 ")
REFUSED_DATA = re.compile(r"^550 5\.6\.0 ")
SMUGGLED = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.com>"
            b"\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n")

# (name, bytes sent after 354 and before the real ".\r\n"); every one holds
# a bare CR, a bare LF or a NUL, so every one must get 550 5.6.0.
SMUGGLING = [
    ("LF.LF", b"Subject: s\r\n\r\nbody\n.\n" + SMUGGLED),
    ("CR.CR", b"Subject: s\r\n\r\nbody\r.\r" + SMUGGLED),
    ("LF.CRLF", b"Subject: s\r\n\r\nbody\n.\r\n" + SMUGGLED),
    ("CRLF.LF", b"Subject: s\r\n\r\nbody\r\n.\n" + SMUGGLED),
    ("CR.CRLF", b"Subject: s\r\n\r\nbody\r.\r\n" + SMUGGLED),
    ("CRLF.CR", b"Subject: s\r\n\r\nbody\r\n.\r" + SMUGGLED),
    ("CRLF NUL.CRLF", b"Subject: s\r\n\r\nbody\r\n\x00.\r\n" + SMUGGLED),
    ("CRLF.NUL CRLF", b"Subject: s\r\n\r\nbody\r\n.\x00\r\n" + SMUGGLED),
    ("CRLF.CR CRLF", b"Subject: s\r\n\r\nbody\r\n.\r\r\n" + SMUGGLED),
    ("LF.LF CRLF", b"Subject: s\r\n\r\nbody\n.\n\r\n" + SMUGGLED),
    ("dot LF at the start", b".\n" + SMUGGLED),
    ("NUL in a header", b"Subject: s\x00\r\n\r\nbody\r\n"),
]

MESSAGE = (b"From: Sender <sender@example.org>\r\n"
           b"To: User <user@example.com>\r\n"
           b"Subject: relay test\r\n"
           b"Message-ID: <relay-1@example.org>\r\n"
           b"\r\n"
           b"Hello,\r\nthis goes upstream.\r\n")


def stuff(message):
    """Dot-stuff a CRLF message (RFC 5321 4.5.2) and add the terminator."""
    lines = message.split(b"\r\n")
    assert lines[-1] == b""
    out = [(b"." + ln) if ln.startswith(b".") else ln for ln in lines[:-1]]
    return b"".join(ln + b"\r\n" for ln in out) + b".\r\n"


def peer_re(port):
    return r"[^\s\[\]]*\[127\.0\.0\.1\]:%d" % port


def split_reply(line):
    """ "550 5.1.1 text" -> ("550", "5.1.1", "text")."""
    code, rest = line[:3], line[4:]
    ecode, _, text = rest.partition(" ")
    return code, ecode, text


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def write_file(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class RelayCase(unittest.TestCase):
    """Helpers: upstreams, a cutoverd relaying to them, a client."""

    RELAY = {"connect_timeout": 5, "reply_timeout": 5, "data_timeout": 10,
             "idle_time": 10}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cutover-relay-")
        self.addCleanup(lambda: shutil.rmtree(self.tmp, ignore_errors=True))

    def upstream(self, **kw):
        up = rp.ScriptedUpstream(**kw).start()
        self.addCleanup(up.stop)
        return up

    def cutoverd(self, up, example=None, relay=None, domains=None,
                 limits=None, env=None, tls=False):
        """A cutoverd whose example.com relays to up (relay_tls none unless
        example overrides it), with limbo.test in limbo."""
        dom = {"state": "live", "relay": up.relay if up else "",
               "relay_tls": "none"}
        dom.update(example or {})
        cfg = {"relay": dict(self.RELAY, **(relay or {})),
               "domains": {"example.com": dom,
                           "limbo.test": {"state": "limbo",
                                          "defer_reply": LIMBO_REPLY}}}
        cfg["domains"].update(domains or {})
        if limits:
            cfg["limits"] = limits
        d = h.Cutoverd(cfg, env=env, tls=tls)
        d.start()
        self.addCleanup(d.stop)
        return d

    def open_tx(self, d, rcpts, mail="<%s>" % SENDER, ehlo="client.test"):
        """A client session after MAIL and the RCPTs; returns (c, replies)."""
        c = d.client(timeout=15)
        self.addCleanup(c.close)
        c.cmd("EHLO " + ehlo, "250")
        c.cmd("MAIL FROM:" + mail, "250")
        return c, [c.cmd("RCPT TO:" + r, "") for r in rcpts]

    def send_data(self, c, message, timeout=20):
        """DATA (cutoverd answers 354 itself), the message, the dot;
        returns the reply to the dot."""
        c.cmd("DATA", "354")
        c.send(stuff(message))
        return c.read_reply(timeout)

    def quit_and_log(self, d, c):
        """QUIT; the session's log lines once its disconnect line is in."""
        c.cmd("QUIT", "221")
        c.expect_closed()
        c.close()   # cutoverd waits a little for the client's close
        return d.wait_event(c.local_port, "disconnect")

    def assertRelayed(self, reply, want, up):
        """reply is upstream's `want` ("NNN X.Y.Z text" lines) passed
        through: same code and enhanced code on every line, text prefixed
        with "upstream HOST[127.0.0.1]:PORT: "."""
        if isinstance(want, str):
            want = [want]
        self.assertEqual(len(reply.lines), len(want), reply)
        for i, (got, w) in enumerate(zip(reply.lines, want)):
            code, ecode, text = split_reply(w)
            sep = "-" if i < len(want) - 1 else " "
            pat = r"^%s%s%s upstream %s: %s$" % (
                code, re.escape(sep), re.escape(ecode), peer_re(up.port),
                re.escape(text))
            self.assertRegex(got, pat, reply)

    def assertNo250WithoutUpstream(self, reply, up):
        """The invariant: a 250 for the dot only when upstream said 250."""
        if reply.code == 250:
            self.assertTrue(up.messages(), "250 for the dot, but the "
                            "upstream got no message: %r" % reply)

    def live_line(self, lines, rcpt):
        got = [ln for ln in h.events(lines, "rcpt") if ln["rcpt"] == rcpt]
        self.assertEqual(len(got), 1, lines)
        ln = got[0]
        self.assertEqual((ln["decision"], ln["state"], ln["domain"]),
                         ("live", "live", rcpt.split("@")[1]), ln)
        return ln

    def data_line(self, lines):
        got = h.events(lines, "data")
        self.assertEqual(len(got), 1, lines)
        return got[0]

    def received_and_rest(self, message):
        """Split an upstream message into its first header field (must be
        our Received:) and the rest."""
        fields, _ = rp.header_block(message)
        self.assertTrue(fields, message[:300])
        name, field = fields[0]
        self.assertEqual(name, "Received", message[:300])
        return field, message[len(field):]


class VerdictTest(RelayCase):
    def test_mail_verdicts_pass_through(self):
        for want in ("451 4.3.0 sender check deferred",
                     ["553-5.7.1 sender rejected", "553 5.7.1 by policy"]):
            with self.subTest(want):
                up = self.upstream(script={"mail": "\n".join(
                    [want] if isinstance(want, str) else want)})
                d = self.cutoverd(up)
                c, (r,) = self.open_tx(d, ["<user@example.com>"])
                self.assertRelayed(r, want, up)
                c.cmd("DATA", "554 5.5.1")
                lines = self.quit_and_log(d, c)
                ln = self.live_line(lines, "user@example.com")
                self.assertIn(r.texts[0], ln["reply"])
                self.assertRegex(ln["upstream"], peer_re(up.port))
                self.assertEqual(up.verbs().count("MAIL"), 1)
                self.assertNotIn("RCPT", up.verbs())
                self.assertEqual(up.messages(), [])

    def test_rcpt_verdicts_pass_through(self):
        bad = ["550-5.1.1 <bad@example.com>: no such user", "550-5.1.1 see",
               "550 5.1.1 https://tenant.test/help"]
        up = self.upstream(script={
            "rcpt bad@example.com": "\n".join(bad),
            "rcpt full@example.com": "452 4.2.2 mailbox full"})
        d = self.cutoverd(up)
        c, replies = self.open_tx(d, ["<bad@example.com>",
                                      "<full@example.com>",
                                      "<user@example.com>"])
        self.assertRelayed(replies[0], bad, up)
        self.assertRelayed(replies[1], "452 4.2.2 mailbox full", up)
        self.assertRelayed(replies[2], "250 2.1.5 Ok", up)
        r = self.send_data(c, MESSAGE)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000001", up)
        lines = self.quit_and_log(d, c)
        self.assertEqual(up.verbs()[:5], ["EHLO", "MAIL", "RCPT", "RCPT",
                                          "RCPT"])
        self.assertEqual(len(up.messages()), 1)
        for rcpt, rep in (("bad@example.com", replies[0]),
                          ("full@example.com", replies[1]),
                          ("user@example.com", replies[2])):
            ln = self.live_line(lines, rcpt)
            self.assertIn(rep.texts[0], ln["reply"])
            self.assertRegex(ln["upstream"], "^%s$" % peer_re(up.port))
            self.assertNotIn("rcpt_rewritten", ln)
            self.assertFalse(ln.get("override"), ln)
        dl = self.data_line(lines)
        self.assertEqual(dl["rcpts"], ["user@example.com"])
        self.assertEqual(dl["reply"], r.line)
        self.assertRegex(dl["relay"]["peer"], "^%s$" % peer_re(up.port))
        self.assertIsNone(dl["relay"]["tls"])
        self.assertIn("250 2.0.0 Ok: queued as Q000001", dl["relay"]["reply"])
        self.assertEqual(dl["rewrites"], [])
        self.assertEqual(dl["message_id"], "<relay-1@example.org>")

    def test_data_and_dot_verdicts_pass_through(self):
        cases = [
            ("data", "554 5.5.1 no data for you"),
            ("data", "451 4.3.0 DATA deferred"),
            ("dot", "554 5.7.1 looks like spam"),
            ("dot", ["452-4.3.1 insufficient storage", "452 4.3.1 later"]),
            ("dot", "550 5.6.0 content rejected"),
        ]
        for step, want in cases:
            with self.subTest((step, want)):
                up = self.upstream(script={step: "\n".join(
                    [want] if isinstance(want, str) else want)})
                d = self.cutoverd(up)
                c, (r,) = self.open_tx(d, ["<user@example.com>"])
                self.assertRelayed(r, "250 2.1.5 Ok", up)
                r = self.send_data(c, MESSAGE)
                self.assertRelayed(r, want, up)
                lines = self.quit_and_log(d, c)
                self.assertEqual(up.verbs().count("DATA"), 1)
                self.assertEqual(len(up.messages()),
                                 1 if step == "dot" else 0)
                dl = self.data_line(lines)
                self.assertEqual(dl["reply"].split("\r\n")[0][4:],
                                 r.lines[0][4:])
                self.assertIn(split_reply(r.lines[0])[2].split(": ", 1)[1],
                              dl["relay"]["reply"])


class FailureTest(RelayCase):
    RELAY = dict(RelayCase.RELAY, reply_timeout=1, data_timeout=1)

    def test_connect_refused(self):
        d = self.cutoverd(None, example={
            "relay": "[127.0.0.1]:%d" % h.free_port()})
        c, (r,) = self.open_tx(d, ["<user@example.com>"])
        self.assertRegex(r.line, LOCAL_4XX)
        c.cmd("DATA", "554 5.5.1")
        lines = self.quit_and_log(d, c)
        ln = self.live_line(lines, "user@example.com")
        self.assertEqual(ln["reply"], r.line)
        self.assertIsNone(ln["upstream"])

    def test_drop_before_data(self):
        for name, script in (
                ("drop instead of the DATA reply", {"data": rp.act(
                    drop="before")}),
                ("drop after the RCPT reply", {"rcpt": rp.act(
                    "250 2.1.5 Ok", drop="after")})):
            with self.subTest(name):
                up = self.upstream(script=script)
                d = self.cutoverd(up)
                c, (r,) = self.open_tx(d, ["<user@example.com>"])
                self.assertRelayed(r, "250 2.1.5 Ok", up)
                c.send(b"DATA\r\n")
                r = c.read_reply()
                if r.code == 354:
                    c.send(stuff(MESSAGE))
                    r = c.read_reply(10)
                self.assertRegex(r.line, LOCAL_4XX)
                lines = self.quit_and_log(d, c)
                self.assertEqual(up.messages(), [])
                dl = h.events(lines, "data")
                if dl:
                    self.assertEqual(dl[0]["reply"], r.line)

    def test_drop_during_data(self):
        up = self.upstream(script={"dot": rp.act(drop="middle",
                                                 after=4096)})
        d = self.cutoverd(up)
        c, (r,) = self.open_tx(d, ["<user@example.com>"])
        big = MESSAGE + b"x" * 998 + b"\r\n"
        big = big * 200
        r = self.send_data(c, big)
        self.assertRegex(r.line, LOCAL_4XX)
        lines = self.quit_and_log(d, c)
        self.assertEqual(up.messages(), [])
        self.assertTrue(up.connections()[0].partial_data)
        self.assertEqual(self.data_line(lines)["reply"], r.line)

    def test_slow_upstream(self):
        for step in ("greeting", "mail", "rcpt", "data", "dot"):
            with self.subTest(step):
                up = self.upstream(script={step: rp.act(
                    rp.DEFAULTS[step].format(host="upstream.test",
                                             queue_id="Q1"), sleep=4)})
                d = self.cutoverd(up)
                t0 = time.monotonic()
                c, (r,) = self.open_tx(d, ["<user@example.com>"])
                if step in ("greeting", "mail", "rcpt"):
                    self.assertRegex(r.line, LOCAL_4XX)
                    self.assertLess(time.monotonic() - t0, 3.0)
                    c.cmd("QUIT", "221")
                    continue
                self.assertRelayed(r, "250 2.1.5 Ok", up)
                t0 = time.monotonic()
                r = self.send_data(c, MESSAGE)
                self.assertRegex(r.line, LOCAL_4XX)
                self.assertLess(time.monotonic() - t0, 3.0)
                self.assertNo250WithoutUpstream(r, up)
                lines = self.quit_and_log(d, c)
                self.assertEqual(self.data_line(lines)["reply"], r.line)


class TLSTest(RelayCase):
    def tls_files(self, names=("upstream.test",), ips=("127.0.0.1",),
                  prefix="up"):
        return rp.make_ca_and_cert(self.tmp, names, ips, prefix)

    def attempt(self, up, relay_tls, ca_file=None):
        relay = {"ca_file": ca_file} if ca_file else {}
        d = self.cutoverd(up, example={"relay_tls": relay_tls}, relay=relay)
        c, (r,) = self.open_tx(d, ["<user@example.com>"])
        return d, c, r

    def refused(self, up, relay_tls, ca_file=None):
        d, c, r = self.attempt(up, relay_tls, ca_file)
        self.assertRegex(r.line, TLS_4XX)
        c.cmd("DATA", "554 5.5.1")
        lines = self.quit_and_log(d, c)
        self.assertEqual(self.live_line(lines, "user@example.com")["reply"],
                         r.line)
        self.assertNotIn("MAIL", up.verbs())
        self.assertEqual(up.messages(), [])

    def relayed(self, up, relay_tls, ca_file=None, want_tls=True):
        d, c, r = self.attempt(up, relay_tls, ca_file)
        self.assertRelayed(r, "250 2.1.5 Ok", up)
        r = self.send_data(c, MESSAGE)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000001", up)
        lines = self.quit_and_log(d, c)
        conn = up.connections()[0]
        tls = self.data_line(lines)["relay"]["tls"]
        if want_tls:
            self.assertIsNotNone(conn.tls)
            self.assertEqual(conn.plain_after_starttls, b"")
            self.assertEqual(tls, {"version": conn.tls[0],
                                   "cipher": conn.tls[1]})
        else:
            self.assertIsNone(conn.tls)
            self.assertIsNone(tls)

    def test_encrypt_without_starttls_offered(self):
        self.refused(self.upstream(), "encrypt")

    def test_encrypt_handshake_failure(self):
        up = self.upstream(tls=self.tls_files(), script={
            "starttls": rp.act("220 2.0.0 go ahead", drop="after")})
        self.refused(up, "encrypt")

    def test_encrypt_self_signed_passes(self):
        self.relayed(self.upstream(tls=self.tls_files()), "encrypt")

    def test_verify_unknown_ca_fails(self):
        self.refused(self.upstream(tls=self.tls_files()), "verify")

    def test_verify_other_ca_fails(self):
        other = self.tls_files(prefix="other")
        self.refused(self.upstream(tls=self.tls_files()), "verify",
                     ca_file=other.ca)

    def test_verify_wrong_name_fails(self):
        tf = self.tls_files(names=("wrong.test",), ips=())
        self.refused(self.upstream(tls=tf), "verify", ca_file=tf.ca)

    def test_verify_with_ca_file_passes(self):
        tf = self.tls_files()
        self.relayed(self.upstream(tls=tf), "verify", ca_file=tf.ca)

    def test_may_uses_tls_when_offered(self):
        self.relayed(self.upstream(tls=self.tls_files()), "may")

    def test_may_plaintext_when_not_offered(self):
        self.relayed(self.upstream(), "may", want_tls=False)

    def test_none_never_starttls(self):
        up = self.upstream(tls=self.tls_files())
        self.relayed(up, "none", want_tls=False)
        self.assertNotIn("STARTTLS", up.verbs())


class TransactionTest(RelayCase):
    def test_mixed_limbo_and_live(self):
        up = self.upstream()
        d = self.cutoverd(up)
        c, (r1, r2, r3) = self.open_tx(d, ["<a@limbo.test>",
                                           "<user@example.com>",
                                           "<b@limbo.test>"])
        self.assertEqual((r1.line, r3.line), (LIMBO_REPLY, LIMBO_REPLY))
        self.assertRelayed(r2, "250 2.1.5 Ok", up)
        r = self.send_data(c, MESSAGE)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000001", up)
        lines = self.quit_and_log(d, c)
        self.assertEqual([x for x in up.commands() if x.startswith("RCPT")],
                         ["RCPT TO:<user@example.com>"])
        for rcpt in ("a@limbo.test", "b@limbo.test"):
            ln = [x for x in h.events(lines, "rcpt") if x["rcpt"] == rcpt][0]
            self.assertEqual((ln["decision"], ln["reply"]),
                             ("defer", LIMBO_REPLY))
        self.assertEqual(self.data_line(lines)["rcpts"], ["user@example.com"])

    def test_second_next_hop_gets_452(self):
        up, up2 = self.upstream(), self.upstream()
        d = self.cutoverd(up, domains={"other.test": {
            "state": "live", "relay": up2.relay, "relay_tls": "none"}})
        c, (r1, r2) = self.open_tx(d, ["<user@example.com>",
                                       "<user@other.test>"])
        self.assertRelayed(r1, "250 2.1.5 Ok", up)
        self.assertRegex(r2.line, r"^452 4\.5\.3 ")
        self.assertEqual(up2.connection_count(), 0)
        r = self.send_data(c, MESSAGE)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000001", up)
        c.cmd("MAIL FROM:<%s>" % SENDER, "250")
        self.assertRelayed(c.cmd("RCPT TO:<user@other.test>", ""),
                           "250 2.1.5 Ok", up2)
        r = self.send_data(c, MESSAGE)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000001", up2)
        lines = self.quit_and_log(d, c)
        self.assertEqual((len(up.messages()), len(up2.messages())), (1, 1))
        self.assertEqual([x for x in up.commands() if x.startswith("RCPT")],
                         ["RCPT TO:<user@example.com>"])
        ln = [x for x in h.events(lines, "rcpt")
              if x["rcpt"] == "user@other.test"][0]
        self.assertEqual(ln["reply"], r2.line)

    def two_in_one_session(self, d, up):
        """Two messages in one client session, the second MAIL sent right
        after the first 250; then QUIT."""
        c, (r,) = self.open_tx(d, ["<user@example.com>"])
        self.assertRelayed(self.send_data(c, MESSAGE),
                           "250 2.0.0 Ok: queued as Q000001", up)
        c.cmd("MAIL FROM:<%s>" % SENDER, "250")
        self.assertRelayed(c.cmd("RCPT TO:<user@example.com>", ""),
                           "250 2.1.5 Ok", up)
        self.assertRelayed(self.send_data(c, MESSAGE),
                           "250 2.0.0 Ok: queued as Q000002", up)
        self.quit_and_log(d, c)

    def test_upstream_session_reused(self):
        """The next transaction starts right after the 250 (and a new
        client right after QUIT), while the upstream's RSET is in flight,
        slowed to 0.4 s here: it waits for that session, one connection
        in all."""
        up = self.upstream(script={"rset": rp.act("250 2.0.0 Ok",
                                                  sleep=0.4)})
        d = self.cutoverd(up)
        self.two_in_one_session(d, up)
        c2, (r,) = self.open_tx(d, ["<user@example.com>"])
        self.assertRelayed(self.send_data(c2, MESSAGE),
                           "250 2.0.0 Ok: queued as Q000003", up)
        self.quit_and_log(d, c2)
        self.assertEqual(up.connection_count(), 1)
        self.assertEqual(len(up.messages()), 3)
        self.assertEqual(up.verbs().count("EHLO"), 1)
        self.assertGreaterEqual(up.verbs().count("RSET"), 2)

    def test_refused_rset_means_a_new_session(self):
        """An upstream that refuses RSET is not reused: the waiting
        transaction gets a session of its own."""
        up = self.upstream(script={"rset": "500 5.5.1 no"})
        d = self.cutoverd(up)
        self.two_in_one_session(d, up)
        self.assertEqual(up.connection_count(), 2)
        self.assertEqual(len(up.messages()), 2)


class ContentTest(RelayCase):
    def relay_one(self, message, up=None, d=None, ehlo="client.test"):
        up = up or self.upstream(lenient_eod=True)
        d = d or self.cutoverd(up)
        c, (r,) = self.open_tx(d, ["<user@example.com>"], ehlo=ehlo)
        self.assertRelayed(r, "250 2.1.5 Ok", up)
        r = self.send_data(c, message)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000001", up)
        lines = self.quit_and_log(d, c)
        self.assertEqual(len(up.messages()), 1)
        return up, d, lines

    def test_smuggling_refused(self):
        up = self.upstream(lenient_eod=True)
        d = self.cutoverd(up)
        for name, payload in SMUGGLING:
            with self.subTest(name):
                c, (r,) = self.open_tx(d, ["<user@example.com>"])
                self.assertRelayed(r, "250 2.1.5 Ok", up)
                c.cmd("DATA", "354")
                c.send(payload)
                c.expect_silence(0.5)
                c.send(b".\r\n")
                r = c.read_reply(10)
                self.assertRegex(r.line, REFUSED_DATA)
                lines = self.quit_and_log(d, c)
                dl = self.data_line(lines)
                self.assertEqual(dl["reply"], r.line)
                self.assertEqual(dl["rcpts"], ["user@example.com"])
        self.assertEqual(up.messages(), [])
        self.assertNotIn("DATA", up.verbs())
        cmds = up.commands()
        self.assertFalse([x for x in cmds if "evil" in x or "victim" in x],
                         cmds)
        self.assertEqual(up.verbs().count("MAIL"), len(SMUGGLING))

    def test_dot_stuffing_both_ways(self):
        msg = (b"Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n...three\r\n"
               b". space\r\nmiddle . dot\r\n.\r\n")
        up, d, lines = self.relay_one(msg)
        received, rest = self.received_and_rest(up.messages()[0])
        self.assertEqual(rest, msg)
        raw = up.raw_messages()[0]
        self.assertEqual(raw + b".\r\n", stuff(received + msg))

    def test_received_header(self):
        up, d, lines = self.relay_one(MESSAGE)
        self.check_received(up.messages()[0], MESSAGE, tls=None)

    def test_received_header_with_client_tls(self):
        up = self.upstream()
        d = self.cutoverd(up, tls=True)
        c = d.client(timeout=15)
        self.addCleanup(c.close)
        c.cmd("EHLO client.test", "250")
        c.cmd("STARTTLS", "220")
        sock = c.starttls(h.client_tls_context())
        tls = (sock.version(), sock.cipher()[0])
        c.cmd("EHLO client.test", "250")
        c.cmd("MAIL FROM:<%s>" % SENDER, "250")
        self.assertRelayed(c.cmd("RCPT TO:<user@example.com>", ""),
                           "250 2.1.5 Ok", up)
        self.assertRelayed(self.send_data(c, MESSAGE),
                           "250 2.0.0 Ok: queued as Q000001", up)
        c.cmd("QUIT", "221")
        self.check_received(up.messages()[0], MESSAGE, tls=tls)

    def check_received(self, got, original, tls):
        """RFC 5321 4.4: one Received: field first, CRLF-folded, "from
        <EHLO> (... [client IP])", "by <hostname>", "with ESMTP" (ESMTPS
        with TLS, RFC 3848, and the TLS version and cipher named), a date
        that parses and is now; the message after it unchanged."""
        received, rest = self.received_and_rest(got)
        self.assertEqual(rest, original)
        self.assertTrue(received.endswith(b"\r\n"))
        for ln in received.split(b"\r\n")[:-1]:
            self.assertLessEqual(len(ln), 998)
            self.assertNotIn(b"\r", ln)
            self.assertNotIn(b"\n", ln)
        text = re.sub(r"\r\n[ \t]+", " ", received.decode("ascii"))[:-2]
        m = re.match(r"^Received: from client\.test "
                     r"\(([^()]*\[127\.0\.0\.1\][^()]*)\)(.*?)"
                     r"\bby mx\.test\.invalid\b(.*?)\bwith (E?SMTPS?A?)\b"
                     r"(.*); ([^;]+)$", text)
        self.assertIsNotNone(m, text)
        self.assertEqual(m.group(4), "ESMTPS" if tls else "ESMTP", text)
        when = email.utils.parsedate_to_datetime(m.group(6).strip())
        self.assertIsNotNone(when.tzinfo, text)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - when).total_seconds()), 300, text)
        if tls:
            self.assertIn(tls[0], text)
            self.assertIn(tls[1], text)

    def test_20mib_message_byte_exact_bounded_memory(self):
        """The message spills to a file (spill_threshold); cutoverd's peak
        RSS must grow by far less than the message.  ASan's quarantine
        would keep every freed buffer resident, so it is made small."""
        asan = h.sanitizer_env()["ASAN_OPTIONS"] + ":quarantine_size_mb=1"
        up = self.upstream()
        d = self.cutoverd(up, relay={"spill_dir": self.tmp,
                                     "spill_threshold": 262144},
                          limits={"max_message_size": 31457280},
                          env={"ASAN_OPTIONS": asan})
        self.relay_one(MESSAGE, up=up, d=d)
        before = vm_hwm_kib(d.proc.pid)
        line = b"".join(b"%c" % (65 + i % 26) for i in range(76))
        body = []
        for i in range(20 * 1024 * 1024 // 78 + 1):
            body.append(b"." + line[1:] if i % 1000 == 0 else line)
        big = (b"Subject: big\r\nMessage-ID: <big@example.org>\r\n\r\n"
               + b"\r\n".join(body) + b"\r\n")
        self.assertGreater(len(big), 20 * 1024 * 1024)
        c, (r,) = self.open_tx(d, ["<user@example.com>"])
        self.assertRelayed(r, "250 2.1.5 Ok", up)
        c.cmd("DATA", "354")
        c.send(stuff(big))
        r = c.read_reply(60)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000002", up)
        after = vm_hwm_kib(d.proc.pid)
        print("VmHWM %d -> %d KiB" % (before, after), file=sys.stderr)
        lines = self.quit_and_log(d, c)
        _, rest = self.received_and_rest(up.messages()[1])
        self.assertEqual(hashlib.sha256(rest).hexdigest(),
                         hashlib.sha256(big).hexdigest())
        self.assertEqual(len(rest), len(big))
        self.assertLess((after - before) * 1024, 8 * 1024 * 1024,
                        "VmHWM %d KiB -> %d KiB for a %d-octet message"
                        % (before, after, len(big)))
        self.assertEqual(self.data_line(lines)["size"], len(big))


class RewriteTest(RelayCase):
    RMAP = ("# recipient map\n@example.com @tenant.test\n"
            "ceo@example.com boss@tenant.test\n")
    SMAP = ("# sender map\n\n@old.example @new.example\n"
            "boss@old.example chief@new.example\n")

    def maps_config(self, up):
        return self.cutoverd(up, example={
            "recipient_map": write_file(self.tmp, "rmap", self.RMAP),
            "sender_map": write_file(self.tmp, "smap", self.SMAP)})

    def test_recipient_and_sender_maps(self):
        up = self.upstream()
        d = self.maps_config(up)
        headers = [
            (b'From: "Alice (not a comment) Smith" <alice@old.example> '
             b'(Work)\r\n',
             b'From: "Alice (not a comment) Smith" <alice@new.example> '
             b'(Work)\r\n'),
            (b"To: alice@old.example, User <user@example.com>\r\n", None),
            (b"Cc: boss@old.example\r\n", None),
            (b"Sender: boss@old.example (The Boss)\r\n",
             b"Sender: chief@new.example (The Boss)\r\n"),
            (b'Reply-To: Team: alice@old.example, "Bob" <bob@other.test>;,\r\n'
             b' =?utf-8?q?x@old.example?= <carol@OLD.example>\r\n',
             b'Reply-To: Team: alice@new.example, "Bob" <bob@other.test>;,\r\n'
             b' =?utf-8?q?x@old.example?= <carol@new.example>\r\n'),
            (b"Subject: mail from alice@old.example\r\n", None),
            (b"Message-ID: <rewrite-1@old.example>\r\n", None),
        ]
        body = (b"\r\nalice@old.example wrote this.\r\n"
                b"From: boss@old.example\r\n")
        sent = b"".join(a for a, _ in headers) + body
        want = b"".join(b or a for a, b in headers) + body
        c, rr = self.open_tx(d, ["<user@example.com>", "<ceo@example.com>",
                                 "<nobody@limbo.test>"],
                             mail="<alice@old.example> BODY=8BITMIME")
        self.assertRelayed(rr[0], "250 2.1.5 Ok", up)
        self.assertRelayed(rr[1], "250 2.1.5 Ok", up)
        self.assertEqual(rr[2].line, LIMBO_REPLY)
        r = self.send_data(c, sent)
        self.assertRelayed(r, "250 2.0.0 Ok: queued as Q000001", up)
        lines = self.quit_and_log(d, c)
        cmds = up.commands()
        self.assertTrue(cmds[1].startswith("MAIL FROM:<alice@new.example>"),
                        cmds)
        self.assertEqual(cmds[2:4], ["RCPT TO:<user@tenant.test>",
                                     "RCPT TO:<boss@tenant.test>"])
        _, rest = self.received_and_rest(up.messages()[0])
        self.assertEqual(rest, want)
        self.assertEqual(self.live_line(lines, "user@example.com")
                         ["rcpt_rewritten"], "user@tenant.test")
        self.assertEqual(self.live_line(lines, "ceo@example.com")
                         ["rcpt_rewritten"], "boss@tenant.test")
        dl = self.data_line(lines)
        self.assertEqual(dl["mail_from"], "alice@old.example")
        self.assertEqual(dl["rcpts"], ["user@example.com", "ceo@example.com"])
        got = sorted((x["field"], x["old"], x["new"]) for x in dl["rewrites"])
        self.assertEqual(got, sorted([
            ("mail_from", "alice@old.example", "alice@new.example"),
            ("from", "alice@old.example", "alice@new.example"),
            ("sender", "boss@old.example", "chief@new.example"),
            ("reply-to", "alice@old.example", "alice@new.example"),
            ("reply-to", "carol@OLD.example", "carol@new.example"),
        ]))

    def test_unmapped_sender_and_headers_untouched(self):
        up = self.upstream()
        d = self.maps_config(up)
        msg = (b"From: Someone <someone@elsewhere.example>\r\n"
               b"Sender: (nobody) \r\n"
               b"Reply-To: undisclosed-recipients:;\r\n"
               b"Subject: x\r\n\r\nbody\r\n")
        c, (r,) = self.open_tx(d, ["<user@example.com>"],
                               mail="<someone@elsewhere.example>")
        self.assertRelayed(r, "250 2.1.5 Ok", up)
        self.assertRelayed(self.send_data(c, msg),
                           "250 2.0.0 Ok: queued as Q000001", up)
        lines = self.quit_and_log(d, c)
        self.assertEqual(up.commands()[1],
                         "MAIL FROM:<someone@elsewhere.example>")
        _, rest = self.received_and_rest(up.messages()[0])
        self.assertEqual(rest, msg)
        self.assertEqual(self.data_line(lines)["rewrites"], [])


class OverrideTest(RelayCase):
    def test_per_recipient_overrides(self):
        up = self.upstream()
        d = self.cutoverd(up, domains={
            "staged.test": {"state": "limbo", "defer_reply": STAGED_REPLY,
                            "relay": up.relay, "relay_tls": "none",
                            "recipients": {"ceo@staged.test":
                                           {"state": "live"}}},
            "moved.test": {"state": "live", "defer_reply": MOVED_REPLY,
                           "relay": up.relay, "relay_tls": "none",
                           "recipients": {"stay@moved.test":
                                          {"state": "limbo"}}}})
        c, rr = self.open_tx(d, ["<ceo@staged.test>", "<other@staged.test>",
                                 "<stay@moved.test>", "<gone@moved.test>"])
        self.assertRelayed(rr[0], "250 2.1.5 Ok", up)
        self.assertEqual(rr[1].line, STAGED_REPLY)
        self.assertEqual(rr[2].line, MOVED_REPLY)
        self.assertRelayed(rr[3], "250 2.1.5 Ok", up)
        self.assertRelayed(self.send_data(c, MESSAGE),
                           "250 2.0.0 Ok: queued as Q000001", up)
        lines = self.quit_and_log(d, c)
        self.assertEqual([x for x in up.commands() if x.startswith("RCPT")],
                         ["RCPT TO:<ceo@staged.test>",
                          "RCPT TO:<gone@moved.test>"])
        rl = {x["rcpt"]: x for x in h.events(lines, "rcpt")}
        self.assertEqual((rl["ceo@staged.test"]["decision"],
                          rl["ceo@staged.test"]["state"],
                          rl["ceo@staged.test"]["override"]),
                         ("live", "live", True))
        self.assertEqual((rl["gone@moved.test"]["decision"],
                          rl["gone@moved.test"].get("override", False)),
                         ("live", False))
        self.assertEqual((rl["other@staged.test"]["decision"],
                          rl["other@staged.test"]["reply"]),
                         ("defer", STAGED_REPLY))
        self.assertEqual((rl["stay@moved.test"]["decision"],
                          rl["stay@moved.test"]["state"],
                          rl["stay@moved.test"]["reply"]),
                         ("defer", "limbo", MOVED_REPLY))
        self.assertEqual(self.data_line(lines)["rcpts"],
                         ["ceo@staged.test", "gone@moved.test"])


if __name__ == "__main__":
    h.main()
