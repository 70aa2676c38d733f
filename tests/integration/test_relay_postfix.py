"""test_relay_postfix.py - swaks -> cutoverd (live) -> a real Postfix "new
tenant" (issue 3, "Integration with real peers").

The tenant (relay_peers.PostfixTenant: a private Postfix, smtpd on a free
127.0.0.1 port, virtual(8) maildirs) accepts mail for tenant.test.
cutoverd's example.com is live with recipient_map "@example.com
@tenant.test", so the envelope recipient is rewritten and the To: header
is not.  The next hop is found two ways: relay = "tenant.test:PORT" (an MX
lookup through a real unbound on loopback, LoopbackDNS: tenant.test MX 10
mx.tenant.test, A 127.0.0.1) and relay = "[127.0.0.1]:PORT" (no DNS).

The delivered file must be the message swaks sent, byte for byte (with the
LF line ends Postfix stores), after the header fields the path adds:
cutoverd's Received, the tenant's Received, Return-Path, X-Original-To and
Delivered-To (the rewritten recipient); with sender_map, the rewritten
From: address is the only other change.  A recipient the tenant does not
know gets the tenant's own 550 5.1.1, prefixed, and nothing is delivered.
"""

import os
import sys
import tempfile
import shutil
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import relay_peers as rp  # noqa: E402
from loopback_dns import LoopbackDNS  # noqa: E402

MESSAGE = (b"From: Alice Example <alice@old.example>\n"
           b"To: User <user@example.com>\n"
           b"Subject: through the cutover\n"
           b"Date: Mon, 23 Nov 2026 06:54:20 +0000\n"
           b"Message-ID: <story-postfix-1@old.example>\n"
           b"MIME-Version: 1.0\n"
           b"Content-Type: text/plain; charset=us-ascii\n"
           b"\n"
           b"Hello tenant,\n"
           b".a line that starts with a dot\n"
           b"..and one with two\n"
           b"\n"
           b"trailing spaces   \n"
           b"\ttab first\n"
           + b"long " * 190 + b"\n"
           b"alice@old.example in the body stays as it is\n"
           b"-- \nAlice\n")


def swaks(server_port, rcpt, data_path, sender="alice@old.example"):
    r = h.run([h.need_tool("swaks"), "--server", "127.0.0.1:%d" % server_port,
               "--helo", "client.test", "--from", sender, "--to", rcpt,
               "--data", "@" + data_path, "--timeout", "30"], timeout=60)
    return r


def find_line(text, prefix):
    for ln in text.splitlines():
        if ln.lstrip("<*- ").startswith(prefix) or ln.startswith(prefix):
            return ln
    return None


class TenantCase(unittest.TestCase):
    """One tenant for the class (a Postfix start costs seconds); each test
    uses its own mailbox and its own cutoverd."""

    @classmethod
    def setUpClass(cls):
        cls.tenant = rp.PostfixTenant(
            "tenant.test", ("user@tenant.test", "other@tenant.test"))
        cls.tenant.start()

    @classmethod
    def tearDownClass(cls):
        cls.tenant.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cutover-rpf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data = os.path.join(self.tmp, "message.eml")
        with open(self.data, "wb") as f:
            f.write(MESSAGE[:-1])   # swaks adds CRLF before the dot
        self.rmap = os.path.join(self.tmp, "recipient_map")
        with open(self.rmap, "w") as f:
            f.write("@example.com @tenant.test\n")
        self.smap = os.path.join(self.tmp, "sender_map")
        with open(self.smap, "w") as f:
            f.write("alice@old.example alice@new.example\n")

    def cutoverd(self, relay, dns=None, sender_map=False):
        dom = {"state": "live", "relay": relay, "relay_tls": "none",
               "recipient_map": self.rmap}
        if sender_map:
            dom["sender_map"] = self.smap
        cfg = {"relay": {"connect_timeout": 10, "reply_timeout": 30},
               "domains": {"example.com": dom}}
        if dns:
            cfg["relay"]["resolver"] = dns.resolver
        d = h.Cutoverd(cfg)
        d.start()
        self.addCleanup(d.stop)
        return d

    def check_delivery(self, d, original, peer_host, local="user"):
        mailbox = local + "@tenant.test"
        got = self.tenant.wait_delivery(mailbox)
        self.assertEqual(len(got), 1)
        added = rp.split_delivered(got[0], original)
        names = [n for n, _ in added]
        self.assertEqual(sorted(names), sorted(
            ["Return-Path", "X-Original-To", "Delivered-To", "Received",
             "Received"]), added)
        fields = dict((n, v) for n, v in added if n != "Received")
        self.assertEqual(fields["Delivered-To"],
                         b"Delivered-To: %s\n" % mailbox.encode())
        self.assertEqual(fields["X-Original-To"],
                         b"X-Original-To: %s\n" % mailbox.encode())
        recv = [v for n, v in added if n == "Received"]
        self.assertIn(b"by mx.tenant.test (Postfix)", recv[0])
        self.assertIn(b"by mx.test.invalid", recv[1])
        self.assertTrue(recv[1].startswith(b"Received: from client.test ("),
                        recv[1])
        dl = h.wait_for(lambda: h.events(d.log_lines(), "data"), 10.0,
                        "cutoverd's data line")[0]
        self.assertRegex(dl["relay"]["peer"],
                         r"^%s\[127\.0\.0\.1\]:%d$" % (peer_host,
                                                       self.tenant.port))
        self.assertTrue(dl["relay"]["reply"].startswith("250 2.0.0 Ok: "
                                                        "queued as "), dl)
        self.assertEqual(dl["rcpts"], [local + "@example.com"])
        self.assertEqual(dl["message_id"], "<story-postfix-1@old.example>")
        rl = [ln for ln in h.events(d.log_lines(), "rcpt")]
        self.assertEqual([(ln["rcpt"], ln["rcpt_rewritten"], ln["decision"])
                          for ln in rl],
                         [(local + "@example.com", mailbox, "live")])
        return dl, fields

    def test_mx_lookup_to_tenant(self):
        with LoopbackDNS(records=[
                ("tenant.test", "MX", "10 mx.tenant.test."),
                ("mx.tenant.test", "A", "127.0.0.1")]) as dns:
            d = self.cutoverd("tenant.test:%d" % self.tenant.port, dns=dns)
            r = swaks(d.port, "user@example.com", self.data)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            line = find_line(r.stdout, "250 2.0.0 upstream ")
            self.assertIsNotNone(line, r.stdout)
            dl, fields = self.check_delivery(d, MESSAGE, r"mx\.tenant\.test")
            self.assertEqual(fields["Return-Path"],
                             b"Return-Path: <alice@old.example>\n")
            self.assertEqual(dl["rewrites"], [])
            d.check_alive()

    def test_literal_next_hop_with_sender_map(self):
        d = self.cutoverd("[127.0.0.1]:%d" % self.tenant.port,
                          sender_map=True)
        r = swaks(d.port, "other@example.com", self.data)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        want = MESSAGE.replace(b"From: Alice Example <alice@old.example>",
                               b"From: Alice Example <alice@new.example>")
        dl, fields = self.check_delivery(d, want, r"[^\s\[\]]*", "other")
        self.assertEqual(fields["Return-Path"],
                         b"Return-Path: <alice@new.example>\n")
        self.assertEqual(
            sorted((x["field"], x["old"], x["new"]) for x in dl["rewrites"]),
            [("from", "alice@old.example", "alice@new.example"),
             ("mail_from", "alice@old.example", "alice@new.example")])

    def test_unknown_tenant_mailbox_gets_tenants_550(self):
        d = self.cutoverd("[127.0.0.1]:%d" % self.tenant.port)
        r = swaks(d.port, "nobody@example.com", self.data)
        self.assertNotEqual(r.returncode, 0)
        line = find_line(r.stdout, "550 5.1.1 upstream ")
        self.assertIsNotNone(line, r.stdout)
        self.assertIn("<nobody@tenant.test>: Recipient address rejected",
                      line)
        rl = h.wait_for(lambda: h.events(d.log_lines(), "rcpt"), 10.0,
                        "cutoverd's rcpt line")[0]
        self.assertEqual((rl["decision"], rl["rcpt_rewritten"]),
                         ("live", "nobody@tenant.test"))
        self.assertTrue(rl["reply"].startswith("550 5.1.1 upstream "), rl)
        self.assertEqual(self.tenant.delivered("nobody@tenant.test"), [])
        self.assertNotIn("to=<nobody@tenant.test>, relay=virtual",
                         self.tenant.log_text())


if __name__ == "__main__":
    h.main()
