"""test_defer_at_data.py - a limbo domain with defer_at = data.

README "What a RCPT gets": such a domain gets 250 2.1.5 at RCPT, the message
is read, and the domain's defer_reply comes after the dot; the attempt log's
`data` line carries size, message_id, subject (unfolded), body_sha256 (of the
unstuffed body), rcpts, bare_cr and bare_lf.  End of data is CRLF.CRLF and
nothing else (RFC 5321 4.1.1.4; SMTP smuggling, CVE-2023-51764 class): every
look-alike sequence is content, so a smuggled "MAIL FROM" after it is never
executed and only the real end produces one reply.
"""

import hashlib
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402

DATA_REPLY = "451 4.3.2 data.test is moving, message not accepted yet"
LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"

CONFIG = {
    "domains": {
        "data.test": {"state": "limbo", "defer_at": "data",
                      "defer_reply": DATA_REPLY},
        "limbo.test": {"state": "limbo", "defer_reply": LIMBO_REPLY},
    },
}

SMUGGLED = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@data.test>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n")

# (name, bytes sent after 354 before the real ".\r\n", bare_cr, bare_lf)
SMUGGLING = [
    ("LF.LF", b"Subject: s\r\n\r\nbody\n.\n" + SMUGGLED, 0, 2),
    ("CR.CR", b"Subject: s\r\n\r\nbody\r.\r" + SMUGGLED, 2, 0),
    ("LF.CRLF", b"Subject: s\r\n\r\nbody\n.\r\n" + SMUGGLED, 0, 1),
    ("CRLF.LF", b"Subject: s\r\n\r\nbody\r\n.\n" + SMUGGLED, 0, 1),
    ("CR.CRLF", b"Subject: s\r\n\r\nbody\r.\r\n" + SMUGGLED, 1, 0),
    ("CRLF NUL.CRLF", b"Subject: s\r\n\r\nbody\r\n\x00.\r\n" + SMUGGLED,
     0, 0),
    ("CRLF.CR CRLF", b"Subject: s\r\n\r\nbody\r\n.\r\r\n" + SMUGGLED, 1, 0),
    ("dot LF at the start", b".\n" + SMUGGLED, 0, 1),
]


def stuff(message):
    """Dot-stuff a CRLF message (RFC 5321 4.5.2) and add the terminator."""
    lines = message.split(b"\r\n")
    assert lines[-1] == b""
    out = [(b"." + ln) if ln.startswith(b".") else ln for ln in lines[:-1]]
    return b"".join(ln + b"\r\n" for ln in out) + b".\r\n"


def reply_text(raw):
    """A one-line reply as text, kept comparable even when it is garbage
    (so the log checks still run and report before the reply check)."""
    return raw.decode("utf-8", "backslashreplace")


class DeferAtDataTest(h.CutoverdCase):
    CONFIG = CONFIG

    def open_data(self, rcpts=("<user@data.test>",)):
        """A session that has reached 354 with the given recipients."""
        c = self.d.client()
        c.cmd("EHLO client.test", "250")
        c.cmd("MAIL FROM:<sender@example.org>", "250")
        for r in rcpts:
            c.cmd("RCPT TO:" + r, "250 2.1.5")
        c.cmd("DATA", "354")
        return c

    def test_message_logged(self):
        headers = (b"From: Sender <sender@example.org>\r\n"
                   b"To: user@data.test\r\n"
                   b"Message-ID: <m1.abc@example.org>\r\n"
                   b"Subject: Hello folded\r\n world \"quoted\"\r\n"
                   b"\r\n")
        body = (b"line one\r\n.leading dot\r\n.\r\n..two dots\r\n"
                b"\xc3\xa9t\xc3\xa9\r\nlast\r\n")
        message = headers + body
        with self.d.client() as c:
            c.cmd("EHLO client.test", "250")
            c.cmd("MAIL FROM:<sender@example.org> BODY=8BITMIME", "250")
            acc = [c.cmd("RCPT TO:<user@data.test>", "250 2.1.5"),
                   c.cmd("RCPT TO:<other@DATA.test>", "250 2.1.5")]
            c.cmd("RCPT TO:<x@elsewhere.test>", "550 5.7.1")
            self.assertEqual(c.cmd("RCPT TO:<y@limbo.test>", "451").line,
                             LIMBO_REPLY)
            c.cmd("DATA", "354")
            c.send(stuff(message))
            after_dot = reply_text(c.read_line())
            c.cmd("MAIL FROM:<again@example.org>", "250")
            c.cmd("QUIT", "221")
        lines = self.d.wait_event(c.local_port, "disconnect")
        rcpt = h.events(lines, "rcpt")
        self.assertEqual([ln["reply"] for ln in rcpt[:2]],
                         [r.line for r in acc])
        for ln in rcpt[:2]:
            self.assertEqual((ln["decision"], ln["domain"], ln["state"]),
                             ("defer_data", "data.test", "limbo"))
        data = h.events(lines, "data")
        self.assertEqual(len(data), 1, lines)
        d = data[0]
        want = {
            "ip": "127.0.0.1", "port": c.local_port, "helo": "client.test",
            "tls": None, "mail_from": "sender@example.org",
            "rcpts": ["user@data.test", "other@DATA.test"],
            "size": len(message), "message_id": "<m1.abc@example.org>",
            "subject": 'Hello folded world "quoted"',
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "bare_cr": 0, "bare_lf": 0, "reply": DATA_REPLY,
        }
        self.assertEqual({k: d.get(k) for k in want}, want)
        self.assertEqual(after_dot, DATA_REPLY)

    def test_empty_message(self):
        with self.open_data() as c:
            c.send(b".\r\n")
            self.assertEqual(c.read_reply().line, DATA_REPLY)
            c.cmd("QUIT", "221")
        d = h.events(self.d.wait_event(c.local_port, "disconnect"), "data")
        self.assertEqual(len(d), 1)
        self.assertEqual(d[0]["size"], 0)
        self.assertEqual(d[0]["body_sha256"], hashlib.sha256(b"").hexdigest())
        self.assertIn(d[0]["message_id"], (None, ""))
        self.assertIn(d[0]["subject"], (None, ""))

    def test_message_in_pieces_and_pipelined_quit(self):
        message = b"Subject: pieces\r\n\r\n" + b"abc\r\n" * 50
        wire = stuff(message)
        with self.open_data() as c:
            for i in range(0, len(wire), 7):
                c.send(wire[i:i + 7])
            c.send(b"QUIT\r\n")
            self.assertEqual(c.read_reply().line, DATA_REPLY)
            c.expect("221")
            c.expect_closed()
        d = h.events(self.d.wait_event(c.local_port, "disconnect"), "data")
        self.assertEqual((d[0]["size"], d[0]["subject"]),
                         (len(message), "pieces"))

    def test_smuggling_is_content(self):
        for name, payload, bare_cr, bare_lf in SMUGGLING:
            with self.subTest(name):
                with self.open_data() as c:
                    c.send(payload)
                    c.expect_silence(1.0)
                    c.send(b".\r\n")
                    after_dot = reply_text(c.read_line())
                    c.send(b"QUIT\r\n")
                    c.expect("221")
                    c.expect_closed()
                lines = self.d.wait_event(c.local_port, "disconnect")
                self.assertEqual([ln["rcpt"] for ln in
                                  h.events(lines, "rcpt")],
                                 ["user@data.test"])
                data = h.events(lines, "data")
                self.assertEqual(len(data), 1, lines)
                self.assertEqual((data[0]["bare_cr"], data[0]["bare_lf"]),
                                 (bare_cr, bare_lf))
                self.assertEqual(data[0]["mail_from"], "sender@example.org")
                self.assertEqual(after_dot, DATA_REPLY)


if __name__ == "__main__":
    h.main()
