"""test_cutover_story.py - the whole cutover, as one test (issue 3).

1. example.com is in limbo (defer_at = data, so the attempt log records the
   deferred message's Message-ID too); a real sending Postfix (private
   instance, relayhost = cutoverd) gets a message for user@example.com and
   keeps it in its deferred queue with our 451 as the reason.
2. The admin flips example.com to live (relay = the new tenant, a private
   Postfix; recipient_map @example.com -> @tenant.test), SIGHUP; a marker
   domain only present in the new configuration tells the test when the
   reload is in force.
3. `postqueue -f`: the sender retries, cutoverd relays, the tenant delivers
   to user@tenant.test; the sender's queue is empty and its log shows the
   tenant's 250 passed through cutoverd.
4. The attempt log holds both attempts of the one message (same
   Message-ID): the deferred one (reply = our 451) and the relayed one
   (decision live, rcpt_rewritten, relay.reply 250, reply 250).
"""

import os
import shutil
import signal
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import relay_peers as rp  # noqa: E402

LIMBO_REPLY = "451 4.3.2 example.com is moving, please retry later"
MARKER_REPLY = "451 4.3.2 reloaded.test: the new configuration is in force"
SENDER = "alice@sender.test.invalid"
MSGID = "<cutover-story-1@sender.test.invalid>"
MESSAGE = ("From: Alice <%s>\nTo: User <user@example.com>\n"
           "Subject: the cutover story\nMessage-ID: %s\n\n"
           "Sent while example.com was in limbo.\n.dot line\n"
           % (SENDER, MSGID))


class CutoverStoryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cutover-story-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.tenant = rp.PostfixTenant("tenant.test", ("user@tenant.test",))
        self.addCleanup(self.tenant.stop)
        self.tenant.start()
        self.d = h.Cutoverd(self.limbo_config())
        self.d.start()
        self.addCleanup(self.d.stop)
        self.sender = rp.PostfixSender("[127.0.0.1]:%d" % self.d.port)
        self.addCleanup(self.sender.stop)
        self.sender.start()

    def limbo_config(self):
        return {"domains": {"example.com": {
            "state": "limbo", "defer_at": "data",
            "defer_reply": LIMBO_REPLY}}}

    def live_config(self):
        rmap = os.path.join(self.tmp, "recipient_map")
        with open(rmap, "w") as f:
            f.write("# the new tenant's routing domain\n"
                    "@example.com @tenant.test\n")
        return {"relay": {"connect_timeout": 10, "reply_timeout": 30},
                "domains": {
                    "example.com": {
                        "state": "live", "defer_reply": LIMBO_REPLY,
                        "relay": "[127.0.0.1]:%d" % self.tenant.port,
                        "relay_tls": "none", "recipient_map": rmap},
                    "reloaded.test": {"state": "limbo",
                                      "defer_reply": MARKER_REPLY}}}

    def data_lines(self):
        return [ln for ln in h.events(self.d.log_lines(), "data")
                if ln.get("message_id") == MSGID]

    def deferred_entry(self):
        for e in self.sender.queue_entries():
            for r in e.get("recipients", []):
                if r.get("address") == "user@example.com" and \
                        e.get("queue_name") == "deferred":
                    return r
        return None

    def wait_reloaded(self):
        def probe():
            with self.d.client() as c:
                c.cmd("EHLO probe.test", "250")
                c.cmd("MAIL FROM:<probe@probe.test>", "250")
                r = c.cmd("RCPT TO:<x@reloaded.test>", "")
                c.cmd("QUIT", "221")
                return r.line == MARKER_REPLY
        try:
            h.wait_for(probe, 10.0, "the reloaded configuration",
                       interval=0.2)
        except AssertionError as e:
            raise AssertionError("%s; cutoverd's stderr:\n%s"
                                 % (e, self.d.stderr())) from None

    def test_limbo_then_live(self):
        self.sender.submit(SENDER, "user@example.com", MESSAGE)
        first = h.wait_for(self.data_lines, 30.0, "the deferred attempt")
        self.assertEqual(len(first), 1)
        self.assertEqual((first[0]["reply"], first[0]["mail_from"],
                          first[0]["rcpts"]),
                         (LIMBO_REPLY, SENDER, ["user@example.com"]))
        r = h.wait_for(self.deferred_entry, 20.0, "the deferred message",
                       interval=0.3)
        self.assertIn(LIMBO_REPLY, r.get("delay_reason", ""), r)
        self.assertEqual(self.tenant.delivered("user@tenant.test"), [])

        self.d.write_config(self.live_config())
        self.d.signal(signal.SIGHUP)
        self.wait_reloaded()
        self.sender.flush()

        got = self.tenant.wait_delivery("user@tenant.test", timeout=40.0)
        self.assertEqual(len(got), 1)
        msg = got[0]
        self.assertIn(b"\nMessage-ID: %s\n" % MSGID.encode(), msg)
        self.assertIn(b"Delivered-To: user@tenant.test\n", msg)
        self.assertIn(b"\nTo: User <user@example.com>\n", msg)
        self.assertTrue(msg.endswith(b"\n\nSent while example.com was in "
                                     b"limbo.\n.dot line\n"), msg[-200:])
        self.assertIn(b"by mx.test.invalid", msg)

        lines = h.wait_for(lambda: (lambda x: x if len(x) >= 2 else None)(
            self.data_lines()), 10.0, "the relayed attempt's data line")
        self.assertEqual(len(lines), 2, lines)
        relayed = lines[1]
        self.assertEqual(relayed["rcpts"], ["user@example.com"])
        self.assertTrue(relayed["reply"].startswith("250 2.0.0 upstream "),
                        relayed)
        self.assertTrue(relayed["relay"]["reply"].startswith("250 "),
                        relayed)
        self.assertNotEqual(relayed["sid"], first[0]["sid"])
        rcpts = [ln for ln in h.events(self.d.log_lines(), "rcpt")
                 if ln["rcpt"] == "user@example.com"]
        self.assertEqual([ln["decision"] for ln in rcpts],
                         ["defer_data", "live"])
        self.assertEqual(rcpts[1]["rcpt_rewritten"], "user@tenant.test")
        self.assertEqual(rcpts[1]["sid"], relayed["sid"])

        h.wait_for(lambda: not self.sender.queue_entries(), 20.0,
                   "the sender's queue to empty", interval=0.3)
        sent = [ln for ln in self.sender.log_text().splitlines()
                if "to=<user@example.com>" in ln and "status=sent" in ln]
        self.assertEqual(len(sent), 1, self.sender.log_text())
        self.assertIn("250 2.0.0 upstream ", sent[0])
        self.d.check_alive()


if __name__ == "__main__":
    h.main()
