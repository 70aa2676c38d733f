"""test_limbo.py - the limbo listener as README.md specifies it.

Covers README "What a RCPT gets" (limbo 451 with the configured text,
550 5.7.1 for unknown domains, IP literals, <postmaster>, sender-specified
routing; source routes decided on the final mailbox; case-insensitive and
IDN matching), "SMTP behaviour" (banner, EHLO keywords, HELO, VRFY, HELP,
NOOP, RSET, QUIT, 502 for EXPN/BDAT/AUTH, 503 sequence errors, PIPELINING)
and "Attempt log" (connect/rcpt/disconnect field by field; hostile client
strings never break a line).  Clients: swaks, smtplib and a raw socket.
"""

import datetime
import os
import re
import smtplib
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402

LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"
MUENCHEN_REPLY = "451 4.3.2 muenchen.example is in transit"
BUECHER_REPLY = "451 4.7.1 buecher.example is in transit"
DEFAULT_REPLY = "451 4.3.2 %d is in transit, please retry later"
MAX_SIZE = 10485760
EHLO_KEYWORDS = {"PIPELINING", "SIZE %d" % MAX_SIZE, "8BITMIME",
                 "ENHANCEDSTATUSCODES", "SMTPUTF8"}
NOT_IMPLEMENTED = "502 5.5.1 Error: command not implemented"
NEED_HELO = "503 5.5.1 Error: send HELO/EHLO first"
NEED_MAIL = "503 5.5.1 Error: need MAIL command"
NESTED_MAIL = "503 5.5.1 Error: nested MAIL command"
ROUTING = "sender-specified routing denied"
ENHANCED_RE = re.compile(r"^([245])\d\d [245]\.\d{1,3}\.\d{1,3}( |$)")
CLIENT_FIELDS = ("helo", "mail_from", "mail_params", "rcpt", "rcpt_params")

CONFIG = {
    "default_defer_reply": DEFAULT_REPLY,
    "limits": {"max_message_size": MAX_SIZE},
    "domains": {
        "limbo.test": {"state": "limbo", "defer_reply": LIMBO_REPLY},
        "münchen.example": {"state": "limbo", "defer_reply": MUENCHEN_REPLY},
        "xn--bcher-kva.example": {"state": "limbo",
                                  "defer_reply": BUECHER_REPLY},
        "pct.test": {"state": "limbo"},
    },
}


def denied(addr):
    return "550 5.7.1 <%s>: relaying denied" % addr


# (name, MAIL parameters, RCPT path, want: exact reply or (prefix, part))
RCPT_CASES = [
    ("limbo", "", "<user@limbo.test>", LIMBO_REPLY),
    ("unknown domain", "", "<user@elsewhere.test>",
     denied("user@elsewhere.test")),
    ("subdomain of a limbo domain", "", "<user@sub.limbo.test>",
     denied("user@sub.limbo.test")),
    ("IPv4 literal", "", "<user@[127.0.0.1]>",
     ("550 5.7.1 ", "relaying denied")),
    ("IPv6 literal", "", "<user@[IPv6:::1]>",
     ("550 5.7.1 ", "relaying denied")),
    ("no domain", "", "<postmaster>", ("550 5.7.1 ", "relaying denied")),
    ("percent hack", "", "<user%other.test@limbo.test>",
     ("550 5.7.1 ", ROUTING)),
    ("bang path", "", "<other.test!user@limbo.test>",
     ("550 5.7.1 ", ROUTING)),
    ("quoted @", "", '<"user@other.test"@limbo.test>',
     ("550 5.7.1 ", ROUTING)),
    ("source route to limbo", "", "<@relay.test,@other.test:user@limbo.test>",
     LIMBO_REPLY),
    ("source route via limbo to unknown", "",
     "<@limbo.test:user@elsewhere.test>", ("550 5.7.1 ", "relaying denied")),
    ("upper case domain", "", "<user@LIMBO.Test>", LIMBO_REPLY),
    ("upper case local part", "", "<USER@limbo.test>", LIMBO_REPLY),
    ("default reply with %d", "", "<user@pct.test>",
     "451 4.3.2 pct.test is in transit, please retry later"),
    ("A-label rcpt, U-label config", "", "<user@xn--mnchen-3ya.example>",
     MUENCHEN_REPLY),
    ("A-label rcpt upper case", "", "<user@XN--MNCHEN-3YA.example>",
     MUENCHEN_REPLY),
    ("U-label rcpt, U-label config", " SMTPUTF8", "<user@münchen.example>",
     MUENCHEN_REPLY),
    ("U-label rcpt, A-label config", " SMTPUTF8", "<user@bücher.example>",
     BUECHER_REPLY),
    ("A-label rcpt, A-label config", "", "<user@xn--bcher-kva.example>",
     BUECHER_REPLY),
    ("U-label without SMTPUTF8", "", "<user@bücher.example>",
     ("553 5.6.7", "")),
    ("bad recipient syntax", "", "<user@>", ("501 5.1.3", "")),
    ("unknown RCPT parameter", "", "<user@limbo.test> FOO=bar",
     ("555 5.5.4", "")),
]


def check_reply(test, reply, want):
    if isinstance(want, str):
        test.assertEqual(reply.line, want)
    else:
        test.assertTrue(reply.line.startswith(want[0]), reply.lines)
        test.assertIn(want[1], reply.line)


class LimboTest(h.CutoverdCase):
    CONFIG = CONFIG

    def session(self, helo="EHLO client.test"):
        c = self.d.client()
        c.cmd(helo, "250")
        return c

    def test_banner(self):
        with h.Raw(self.d.port) as c:
            self.assertEqual(c.read_reply().line,
                             "220 mx.test.invalid ESMTP cutoverd")

    def test_swaks_limbo_and_unknown(self):
        swaks = h.need_tool("swaks")
        for rcpt, want in (("user@limbo.test", LIMBO_REPLY),
                           ("user@elsewhere.test",
                            denied("user@elsewhere.test"))):
            with self.subTest(rcpt=rcpt):
                r = h.run([swaks, "--server", "127.0.0.1:%d" % self.d.port,
                           "--from", "sender@example.org", "--to", rcpt,
                           "--helo", "client.test", "--quit-after", "RCPT",
                           "--timeout", "5"], timeout=30)
                self.assertIn("<** " + want, r.stdout.splitlines(),
                              r.stdout + r.stderr)
                self.assertEqual(r.returncode, 24, r.stdout)

    def test_smtplib_limbo_and_unknown(self):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=5,
                          local_hostname="client.test") as s:
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            self.assertEqual(s.mail("sender@example.org")[0], 250)
            code, msg = s.rcpt("user@limbo.test")
            self.assertEqual("%d %s" % (code, msg.decode()), LIMBO_REPLY)
            code, msg = s.rcpt("other@elsewhere.test")
            self.assertEqual("%d %s" % (code, msg.decode()),
                             denied("other@elsewhere.test"))
            self.assertEqual(s.noop()[0], 250)

    def test_rcpt_table(self):
        for name, params, path, want in RCPT_CASES:
            with self.subTest(name):
                with self.session() as c:
                    c.cmd("MAIL FROM:<sender@example.org>" + params, "250")
                    c.send("RCPT TO:%s\r\n" % path)
                    r = c.read_reply()
                    check_reply(self, r, want)
                    c.cmd("QUIT", "221")
                lines = self.d.wait_event(c.local_port, "disconnect")
                rc = h.events(lines, "rcpt")
                if r.code in (451, 550):
                    self.assertEqual(len(rc), 1, lines)
                    self.assertEqual(rc[0]["reply"], r.line)
                    self.assertEqual(rc[0]["decision"],
                                     "defer" if r.code == 451 else "deny")
                    if r.code == 451:
                        self.assertIsNotNone(rc[0]["domain"])
                        self.assertEqual(rc[0]["state"], "limbo")

    def test_ehlo_keywords(self):
        with self.d.client() as c:
            r = c.cmd("EHLO client.test", "250")
            self.assertTrue(r.texts[0].startswith(h.HOSTNAME), r.lines)
            self.assertEqual({t.upper() for t in r.texts[1:]}, EHLO_KEYWORDS)
            self.assertEqual(len(r.texts[1:]), len(EHLO_KEYWORDS), r.lines)

    def test_helo(self):
        with self.session("HELO client.test") as c:
            c.cmd("MAIL FROM:<sender@example.org>", "250")
            self.assertEqual(c.cmd("RCPT TO:<user@limbo.test>", "451").line,
                             LIMBO_REPLY)
            c.cmd("QUIT", "221")
        lines = self.d.wait_event(c.local_port, "disconnect")
        self.assertEqual(h.events(lines, "rcpt")[0]["helo"], "client.test")

    def test_simple_commands(self):
        with self.session() as c:
            for line, want in (
                    ("VRFY user",
                     "252 2.5.0 Cannot VRFY user; try RCPT to attempt "
                     "delivery"),
                    ("HELP", "214"), ("NOOP", "250"), ("RSET", "250"),
                    ("noop", "250"), ("QUIT", "221")):
                with self.subTest(line):
                    r = c.cmd(line, want)
                    self.assertRegex(r.lines[-1], ENHANCED_RE)
                    self.assertEqual(ENHANCED_RE.match(r.lines[-1]).group(1),
                                     r.lines[-1][4])
            c.expect_closed()

    def test_not_implemented(self):
        with self.session() as c:
            for line in ("EXPN staff", "BDAT 10 LAST", "AUTH PLAIN",
                         "expn staff"):
                with self.subTest(line):
                    self.assertEqual(c.cmd(line, "502").line, NOT_IMPLEMENTED)
            c.cmd("NOOP", "250")

    def test_sequence_errors(self):
        with self.d.client() as c:
            for line in ("MAIL FROM:<a@example.org>", "RCPT TO:<u@limbo.test>",
                         "DATA"):
                with self.subTest(line):
                    self.assertEqual(c.cmd(line, "503").line, NEED_HELO)
            c.cmd("EHLO client.test", "250")
            for line in ("RCPT TO:<u@limbo.test>", "DATA"):
                with self.subTest("after EHLO: " + line):
                    self.assertEqual(c.cmd(line, "503").line, NEED_MAIL)
            c.cmd("MAIL FROM:<a@example.org>", "250")
            self.assertEqual(c.cmd("MAIL FROM:<b@example.org>", "503").line,
                             NESTED_MAIL)
            c.cmd("RCPT TO:<u@limbo.test>", "451")
            self.assertEqual(c.cmd("DATA", "554").line,
                             "554 5.5.1 Error: no valid recipients")
            c.cmd("RSET", "250")
            self.assertEqual(c.cmd("RCPT TO:<u@limbo.test>", "503").line,
                             NEED_MAIL)
            self.assertEqual(c.cmd("FROB", "500").line,
                             "500 5.5.2 Error: command not recognized")

    def test_mail_syntax(self):
        for line, want in (("MAIL FROM:<a@@example.org>", "501 5.1.7"),
                           ("MAIL FROM:<a@example.org> XYZ=1", "555 5.5.4"),
                           ("MAIL FROM:<a@example.org> SIZE=100", "250"),
                           ("MAIL FROM:<>", "250")):
            with self.subTest(line), self.session() as c:
                c.cmd(line, want)

    def test_pipelining_one_write(self):
        with self.d.client() as c:
            c.send(b"EHLO client.test\r\nMAIL FROM:<s@example.org>\r\n"
                   b"RCPT TO:<a@limbo.test>\r\nRCPT TO:<b@elsewhere.test>\r\n"
                   b"RCPT TO:<c@limbo.test>\r\nDATA\r\nQUIT\r\n")
            r = c.expect("250")
            self.assertGreater(len(r.lines), 1, "EHLO reply first")
            self.assertTrue(r.texts[0].startswith(h.HOSTNAME), r.lines)
            c.expect("250")
            self.assertEqual(c.read_reply().line, LIMBO_REPLY)
            self.assertEqual(c.read_reply().line, denied("b@elsewhere.test"))
            self.assertEqual(c.read_reply().line, LIMBO_REPLY)
            c.expect("554 5.5.1")
            c.expect("221")
            c.expect_closed()
        lines = self.d.wait_event(c.local_port, "disconnect")
        self.assertEqual([ln["rcpt"] for ln in h.events(lines, "rcpt")],
                         ["a@limbo.test", "b@elsewhere.test", "c@limbo.test"])

    def check_common(self, ln, c):
        self.assertEqual(ln["ip"], "127.0.0.1")
        self.assertEqual(ln["port"], c.local_port)

    def check_time(self, ln):
        t = datetime.datetime.strptime(ln["t"], "%Y-%m-%dT%H:%M:%S.%fZ")
        now = datetime.datetime.now(datetime.timezone.utc).replace(
            tzinfo=None)
        self.assertLess(abs((now - t).total_seconds()), 120, ln["t"])

    def test_log_fields(self):
        with self.session() as c:
            c.cmd("MAIL FROM:<sender@example.org> SIZE=100 BODY=8BITMIME",
                  "250")
            r1 = c.cmd("RCPT TO:<user@limbo.test>", "451")
            r2 = c.cmd("RCPT TO:<x@elsewhere.test>", "550")
            c.cmd("QUIT", "221")
            c.expect_closed()
        lines = self.d.wait_event(c.local_port, "disconnect")
        self.assertEqual([ln["ev"] for ln in lines],
                         ["connect", "rcpt", "rcpt", "disconnect"])
        self.assertEqual(len({ln["sid"] for ln in lines}), 1)
        for ln in lines:
            self.check_common(ln, c)
            self.check_time(ln)
            self.assertEqual(ln["host"], h.HOSTNAME)
        con, a, b, disc = lines
        self.assertEqual(con["lip"], "127.0.0.1")
        self.assertEqual(con["lport"], self.d.port)
        for ln, r, rcpt in ((a, r1, "user@limbo.test"),
                            (b, r2, "x@elsewhere.test")):
            self.assertEqual(ln["helo"], "client.test")
            self.assertIsNone(ln["tls"])
            self.assertEqual(ln["mail_from"], "sender@example.org")
            self.assertEqual(ln["mail_params"], "SIZE=100 BODY=8BITMIME")
            self.assertEqual(ln["rcpt"], rcpt)
            self.assertIn(ln["rcpt_params"], ("", None))
            self.assertEqual(ln["reply"], r.line)
        self.assertEqual((a["domain"], a["state"], a["decision"]),
                         ("limbo.test", "limbo", "defer"))
        self.assertEqual((b["domain"], b["state"], b["decision"]),
                         (None, None, "deny"))
        self.assertEqual(disc["reason"], "quit")
        self.assertIsInstance(disc["duration_ms"], int)
        self.assertGreaterEqual(disc["duration_ms"], 0)
        want = {"commands": 5, "transactions": 1, "rcpts": 2, "deferred": 1,
                "denied": 1, "errors": 0}
        self.assertEqual({k: disc[k] for k in want}, want)
        with self.d.client() as c2:
            pass
        other = self.d.wait_event(c2.local_port, "disconnect")
        self.assertNotEqual(other[0]["sid"], con["sid"])
        self.assertEqual(other[-1]["reason"], "client_closed")

    def hostile_session(self, helo, mail, rcpts):
        """Run one session of raw command lines; returns (port, replies)."""
        replies = []
        with self.d.client() as c:
            for line in [helo, mail] + rcpts:
                c.send(line + b"\r\n")
                replies.append(c.read_reply())
            c.cmd("QUIT", "221")
        self.d.wait_event(c.local_port, "disconnect")
        return c.local_port, replies

    def test_hostile_strings_in_log(self):
        long_helo = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
        orcpt = "ORCPT=rfc822;" + "x" * 400
        cases = [
            (b"EHLO " + long_helo.encode(), b"MAIL FROM:<s@example.org>",
             [b"RCPT TO:<u@limbo.test> " + orcpt.encode(),
              b'RCPT TO:<"a\\"b\\\\c d"@limbo.test>']),
            (b'EHLO "quoted\\\\host"', b'MAIL FROM:<"x\\\\y\\"z"@example.org>',
             [b"RCPT TO:<u@limbo.test>"]),
            (b"EHLO a\x01b\x7fc.test", b"MAIL FROM:<s@example.org>",
             [b"RCPT TO:<u\x1b[31m@limbo.test>"]),
            (b"EHLO \xff\xfe.test", b"MAIL FROM:<s@example.org> SMTPUTF8",
             [b"RCPT TO:<u@limbo.test>"]),
            (b"EHLO client.test", b"MAIL FROM:<s\xff@example.org> SMTPUTF8",
             [b"RCPT TO:<u@limbo.test>"]),
            (b"EHLO client.test", b"MAIL FROM:<s@example.org> SMTPUTF8",
             [b"RCPT TO:<\xc3\x28bad@limbo.test>",
              b"RCPT TO:<u@\xed\xa0\x80.limbo.test>",
              b"RCPT TO:<" + b"l" * 200 + b"@limbo.test>",
              b"RCPT TO:<u\x00x@limbo.test>",
              b"RCPT TO:<u@limbo.test>\tNOTIFY=NEVER"]),
        ]
        for helo, mail, rcpts in cases:
            with self.subTest(helo=helo):
                port, replies = self.hostile_session(helo, mail, rcpts)
                lines = self.d.session_lines(port)
                for ln in lines:
                    for key in CLIENT_FIELDS:
                        if isinstance(ln.get(key), str):
                            self.assertLessEqual(len(ln[key]), 257, ln)
                logged = [ln["reply"] for ln in h.events(lines, "rcpt")]
                sent = [r.line for r in replies[2:]]
                decided = [r for r in sent if r[:3] in ("451", "550")]
                self.assertEqual([r for r in logged if r[:3] in ("451",
                                                                  "550")],
                                 decided, "every decision is logged")
                it = iter(sent)
                self.assertTrue(all(r in it for r in logged),
                                "logged replies %r are not the replies sent "
                                "%r, in order" % (logged, sent))
        port, replies = self.hostile_session(*cases[0])
        self.assertEqual(replies[0].code, 250, replies[0])
        self.assertEqual([r.line for r in replies[2:]], [LIMBO_REPLY] * 2)
        rc = h.events(self.d.session_lines(port), "rcpt")
        self.assertEqual(rc[0]["helo"], long_helo)
        self.assertEqual(rc[0]["rcpt_params"], orcpt[:256] + "…")
        self.assertEqual(rc[1]["rcpt"], '"a\\"b\\\\c d"@limbo.test')


if __name__ == "__main__":
    h.main()
