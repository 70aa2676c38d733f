"""test_tls.py - STARTTLS (RFC 3207) as README "SMTP behaviour" specifies.

With a `tls` section, EHLO advertises STARTTLS (only before encryption),
the handshake offers TLS 1.2 or newer only, the `tls` log line and the rcpt
line's tls object carry version and cipher, anything pipelined after
STARTTLS is discarded (CVE-2011-0411 class), and the session starts over
(a new EHLO is needed).  Without `tls`, STARTTLS gets 454; inside TLS, 503.
The certificate is a throw-away self-signed one made with openssl.
"""

import os
import smtplib
import ssl
import sys
import unittest
import warnings

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402

LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"
CONFIG = {"limits": {"max_message_size": 20000000},
          "domains": {"limbo.test": {"state": "limbo",
                                     "defer_reply": LIMBO_REPLY}}}
BASE_KEYWORDS = {"PIPELINING", "SIZE 20000000", "8BITMIME",
                 "ENHANCEDSTATUSCODES", "SMTPUTF8"}
NEED_HELO = "503 5.5.1 Error: send HELO/EHLO first"


def keywords(reply):
    return {t.upper() for t in reply.texts[1:]}


class TlsTest(h.CutoverdCase):
    CONFIG = CONFIG
    TLS = True

    def tls_session(self, ctx=None):
        """Raw session after EHLO, STARTTLS, handshake (no EHLO yet)."""
        c = self.d.client()
        c.cmd("EHLO client.test", "250")
        c.cmd("STARTTLS", "220")
        c.starttls(ctx or h.client_tls_context())
        return c

    def test_ehlo_advertises_starttls_once(self):
        with self.d.client() as c:
            r = c.cmd("EHLO client.test", "250")
            self.assertEqual(keywords(r), BASE_KEYWORDS | {"STARTTLS"})
        with self.tls_session() as c:
            self.assertEqual(keywords(c.cmd("EHLO client.test", "250")),
                             BASE_KEYWORDS)

    def test_smtplib_starttls_and_log(self):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=5,
                          local_hostname="client.test") as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            code, _ = s.starttls(context=h.client_tls_context())
            self.assertEqual(code, 220)
            version, cipher = s.sock.version(), s.sock.cipher()[0]
            port = s.sock.getsockname()[1]
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            s.mail("sender@example.org")
            code, msg = s.rcpt("user@limbo.test")
            self.assertEqual("%d %s" % (code, msg.decode()), LIMBO_REPLY)
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        lines = self.d.wait_event(port, "disconnect")
        tls = h.events(lines, "tls")
        self.assertEqual(len(tls), 1, lines)
        self.assertEqual((tls[0]["ip"], tls[0]["port"], tls[0]["version"],
                          tls[0]["cipher"]),
                         ("127.0.0.1", port, version, cipher))
        rcpt = h.events(lines, "rcpt")[0]
        self.assertEqual(rcpt["tls"], {"version": version, "cipher": cipher})
        self.assertEqual(rcpt["helo"], "client.test")

    def test_tls12_client(self):
        ctx = h.client_tls_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with self.tls_session(ctx) as c:
            self.assertEqual(c.sock.version(), "TLSv1.2")
            c.cmd("EHLO client.test", "250")
            c.cmd("MAIL FROM:<s@example.org>", "250")
            c.cmd("RCPT TO:<u@limbo.test>", "451")
        lines = self.d.wait_event(c.local_port, "disconnect")
        self.assertEqual(h.events(lines, "rcpt")[0]["tls"]["version"],
                         "TLSv1.2")

    def test_tls11_client_refused(self):
        self.assertTrue(ssl.HAS_TLSv1_1, "this Python/OpenSSL cannot make a "
                        "TLS 1.1 client, so the refusal cannot be shown")
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = h.client_tls_context()
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        c = self.d.client()
        try:
            c.cmd("EHLO client.test", "250")
            c.cmd("STARTTLS", "220")
            with self.assertRaises((ssl.SSLError, OSError)) as cm:
                c.starttls(ctx)
            self.assertNotIn("NO_PROTOCOLS_AVAILABLE", str(cm.exception),
                             "the client could not offer TLS 1.1 at all")
        finally:
            c.close()
        lines = self.d.wait_event(c.local_port, "disconnect")
        self.assertEqual(h.events(lines, "tls"), [])
        self.assertEqual(h.events(lines, "disconnect")[0]["reason"],
                         "tls_error")

    def test_pipelined_after_starttls_is_discarded(self):
        for injected, probe, want in (
                (b"RSET\r\n", "VRFY user", "252"),
                (b"MAIL FROM:<evil@example.org>\r\n",
                 "RCPT TO:<u@limbo.test>", "503 5.5.1 Error: need MAIL"),
                (b"EHLO evil.test\r\nMAIL FROM:<evil@example.org>\r\n",
                 "RCPT TO:<u@limbo.test>", "503 5.5.1 Error: need MAIL")):
            with self.subTest(injected=injected), self.d.client() as c:
                c.cmd("EHLO client.test", "250")
                c.send(b"STARTTLS\r\n" + injected)
                c.expect("220")
                c.starttls(h.client_tls_context())
                c.send(b"EHLO x.test\r\n")
                r = c.expect("250")
                self.assertGreater(len(r.lines), 1, r.lines)
                self.assertTrue(r.texts[0].startswith(h.HOSTNAME), r.lines)
                c.cmd(probe, want)

    def test_quit_inside_tls(self):
        with self.tls_session() as c:
            c.cmd("EHLO client.test", "250")
            c.cmd("QUIT", "221")
            c.expect_closed()
        lines = self.d.wait_event(c.local_port, "disconnect")
        self.assertEqual(h.events(lines, "disconnect")[0]["reason"], "quit")

    def test_starttls_twice(self):
        with self.tls_session() as c:
            c.cmd("EHLO client.test", "250")
            self.assertEqual(c.cmd("STARTTLS", "503").line,
                             "503 5.5.1 Error: TLS already active")
            c.cmd("NOOP", "250")

    def test_mail_after_starttls_needs_ehlo(self):
        with self.tls_session() as c:
            self.assertEqual(c.cmd("MAIL FROM:<s@example.org>", "503").line,
                             NEED_HELO)
            c.cmd("EHLO client.test", "250")
            c.cmd("MAIL FROM:<s@example.org>", "250")


class NoTlsTest(unittest.TestCase):
    def test_starttls_not_configured(self):
        with h.Cutoverd(CONFIG) as d, d.client() as c:
            r = c.cmd("EHLO client.test", "250")
            self.assertEqual(keywords(r), BASE_KEYWORDS)
            self.assertEqual(c.cmd("STARTTLS", "454").line,
                             "454 4.7.0 TLS not available")
            c.cmd("MAIL FROM:<s@example.org>", "250")
            c.cmd("QUIT", "221")


if __name__ == "__main__":
    h.main()
