#!/usr/bin/env python3
"""cutoverd checks SPF, DKIM and DMARC on what it relays (issue 4, "cutoverd
uses it"): the same library as cutover-milter, run on worker threads, the
Authentication-Results field prepended before relaying, verdicts on the
data log line.

Real parts: cutoverd on loopback, a scripted upstream that records the
exact bytes it receives, a real unbound on loopback serving the SPF, DKIM
and DMARC records, and mail signed by a real OpenDKIM (milter_harness.Signer,
driven through miltertest).

libspf2 passes every client on 127.0.0.0/8 ("localhost is always allowed"),
and these tests can only connect from loopback, so SPF is always "pass"
here; DMARC failures are made with a MAIL FROM domain that is not aligned
with From.
"""
import os
import re
import sys
import tempfile
import shutil
import socket
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "milter"))

import cutover_harness as h  # noqa: E402
import loopback_dns  # noqa: E402
import milter_harness as mh  # noqa: E402
import relay_peers as rp  # noqa: E402

AUTHSERV = "cutover.test"
AR_RE = re.compile(rb"^Authentication-Results: (.*?)\r\n(?![ \t])",
                   re.M | re.S)


def stuff(text):
    """CRLF line ends and dot-stuffing, then the end of data."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = "".join(("." + ln if ln.startswith(".") else ln) + "\r\n"
                  for ln in lines)
    return (out + ".\r\n").encode()


class RelayAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cutover-relay-auth-")
        cls.keys = mh.Keys(cls.tmp)
        recs = mh.zone(cls.keys) + [
            ("sender.example", "TXT", "v=spf1 ip4:127.0.0.0/8 -all"),
            ("slow.example", "TXT", "v=spf1 -all")]
        cls.dns = loopback_dns.LoopbackDNS(
            records=recs, timeouts=[("_dmarc.slow.example", None)])
        cls.dns.start()
        cls.signer = mh.Signer("rsa.example", "rsa", cls.keys.rsa)

    @classmethod
    def tearDownClass(cls):
        cls.signer.stop()
        cls.dns.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.up = rp.ScriptedUpstream().start()
        self.addCleanup(self.up.stop)

    def cutoverd(self, auth=None):
        cfg = {"relay": {"reply_timeout": 10, "data_timeout": 10},
               "auth": dict({"authserv_id": AUTHSERV,
                             "resolver": self.dns.resolver,
                             "dns_timeout": 2, "timeout": 10},
                            **(auth or {})),
               "domains": {"dest.example": {"state": "live",
                                            "relay": self.up.relay,
                                            "relay_tls": "none"}}}
        d = h.Cutoverd(cfg)
        d.start()
        self.addCleanup(d.stop)
        return d

    def relay(self, d, text, mailfrom):
        """One transaction; returns (reply to the dot, bytes the upstream
        got, the data log line)."""
        c = d.client(timeout=30)
        self.addCleanup(c.close)
        c.cmd("EHLO client.example", "250")
        c.cmd("MAIL FROM:<%s>" % mailfrom, "250")
        c.cmd("RCPT TO:<rcpt@dest.example>", "250")
        c.cmd("DATA", "354")
        c.send(stuff(text))
        reply = c.read_reply(30)
        c.cmd("QUIT", "221")
        c.expect_closed()
        c.close()
        lines = d.wait_event(c.local_port, "disconnect")
        data = [ln for ln in lines if ln["ev"] == "data"]
        self.assertEqual(len(data), 1, lines)
        msgs = self.up.messages()
        return reply, (msgs[-1] if msgs else None), data[0]

    def authres(self, raw):
        found = AR_RE.findall(raw)
        ours = [v for v in found if v.startswith(AUTHSERV.encode() + b";")]
        return ours, found

    def test_signed_message_passes_and_is_stamped(self):
        d = self.cutoverd()
        text = self.signer.sign(mh.message("<a@rsa.example>", "signed"),
                                "a@rsa.example")
        reply, raw, dl = self.relay(d, text, "a@rsa.example")
        self.assertTrue(reply.line.startswith("250"), reply.lines)
        ours, _ = self.authres(raw)
        self.assertEqual(len(ours), 1, raw[:2000])
        value = ours[0].decode()
        self.assertRegex(value, r"dkim=pass[^;]*header\.d=rsa\.example")
        self.assertIn("dmarc=pass", value)
        self.assertIn("header.from=rsa.example", value)
        # Received first, then our A-R, then the message as signed
        self.assertTrue(raw.startswith(b"Received: "), raw[:200])
        self.assertLess(raw.index(b"Received: "),
                        raw.index(b"Authentication-Results: "))
        body = text.replace("\n", "\r\n").encode()
        self.assertTrue(raw.endswith(body), "message changed in transit")
        self.assertEqual(dl["auth"]["dkim"], "pass")
        self.assertEqual(dl["auth"]["dmarc"], "pass")
        self.assertEqual(dl["auth"]["forged_removed"], 0)

    def test_forged_results_removed_foreign_kept(self):
        d = self.cutoverd()
        forged = ["Authentication-Results: %s; dkim=pass header.d=bank.example"
                  % AUTHSERV,
                  "Authentication-Results: %s;\n\tdmarc=pass" % AUTHSERV,
                  "Authentication-Results: other.example; spf=pass"]
        text = mh.message("<a@spfonly.example>", "forged", extra=forged)
        reply, raw, dl = self.relay(d, text, "a@spfonly.example")
        self.assertTrue(reply.line.startswith("250"), reply.lines)
        ours, found = self.authres(raw)
        self.assertEqual(len(ours), 1, found)
        self.assertNotIn(b"bank.example", raw)
        self.assertIn(b"Authentication-Results: other.example; spf=pass",
                      raw)
        self.assertEqual(dl["auth"]["forged_removed"], 2)
        self.assertIn("spf=pass", ours[0].decode())

    def test_unaligned_unsigned_fails_dmarc(self):
        d = self.cutoverd()
        text = mh.message("<ceo@reject.example>", "phish")
        reply, raw, dl = self.relay(d, text, "x@sender.example")
        # cutoverd stamps, the new system decides: the upstream's 250
        self.assertTrue(reply.line.startswith("250"), reply.lines)
        ours, _ = self.authres(raw)
        self.assertEqual(len(ours), 1)
        self.assertIn("dmarc=fail", ours[0].decode())
        self.assertIn("dkim=none", ours[0].decode())
        self.assertEqual(dl["auth"]["dmarc"], "fail")

    def test_dns_timeout_gives_temperror(self):
        d = self.cutoverd()
        text = mh.message("<a@slow.example>", "slow")
        reply, raw, dl = self.relay(d, text, "a@slow.example")
        self.assertTrue(reply.line.startswith("250"), reply.lines)
        ours, _ = self.authres(raw)
        self.assertEqual(len(ours), 1)
        self.assertIn("dmarc=temperror", ours[0].decode())
        self.assertEqual(dl["auth"]["dmarc"], "temperror")

    def test_check_past_its_time_does_not_block(self):
        # a resolver that never answers and a whole-check timeout shorter
        # than one DNS timeout: the message goes on without our A-R and
        # the log says why
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        d = self.cutoverd({"timeout": 1, "dns_timeout": 5, "resolver":
                           "127.0.0.1@%d" % silent.getsockname()[1]})
        text = mh.message("<a@slow.example>", "too slow")
        reply, raw, dl = self.relay(d, text, "a@slow.example")
        self.assertTrue(reply.line.startswith("250"), reply.lines)
        ours, _ = self.authres(raw)
        self.assertEqual(ours, [])
        self.assertEqual(dl["auth"], {"error": "timeout"})

    def test_disabled_adds_nothing(self):
        d = self.cutoverd({"enabled": False})
        text = mh.message("<a@rsa.example>", "off")
        reply, raw, dl = self.relay(d, text, "a@rsa.example")
        self.assertTrue(reply.line.startswith("250"), reply.lines)
        self.assertNotIn(b"Authentication-Results:", raw)
        self.assertIsNone(dl["auth"])


if __name__ == "__main__":
    h.main()
