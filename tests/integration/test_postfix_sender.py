"""test_postfix_sender.py - a real sending MTA queues on cutoverd's 451.

A private Postfix instance (its own config_directory, queue_directory and
data_directory in a temporary directory; loopback only; no inet smtpd;
every message relayed to cutoverd through relayhost) gets a message by
/usr/sbin/sendmail.  README's promise is that a well-behaved MTA queues and
retries: the message must sit in Postfix's `deferred` queue with our 451
text as its delay_reason (postqueue -j), while a recipient in an unknown
domain bounces on our 550 5.7.1 (Postfix's maillog shows it).

The instance never touches the system one in /etc/postfix: every command
gets -c/-C with our directory, and `postfix stop` acts on our queue
directory's master.pid.  Postfix runs as root with mail_owner postfix.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import relay_peers as rp  # noqa: E402

LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"
CONFIG = {"domains": {"limbo.test": {"state": "limbo",
                                     "defer_reply": LIMBO_REPLY}}}
SENDER = "sender@sender.test.invalid"

class Postfix(rp.PostfixSender):
    """relay_peers' sending MTA, everything relayed to 127.0.0.1:port."""

    def __init__(self, port):
        super().__init__("[127.0.0.1]:%d" % port)

    def submit(self, rcpt, subject):
        super().submit(SENDER, rcpt,
                       "From: <%s>\nTo: <%s>\nSubject: %s\n"
                       "Message-ID: <%s@sender.test.invalid>\n\nhello\n"
                       % (SENDER, rcpt, subject, subject))


class PostfixSenderTest(unittest.TestCase):
    def setUp(self):
        self.d = h.Cutoverd(CONFIG).start()
        self.addCleanup(self.d.stop)
        self.pf = Postfix(self.d.port)
        self.addCleanup(self.pf.stop)
        self.pf.start()

    def rcpt_line(self, rcpt):
        def find():
            return [ln for ln in h.events(self.d.log_lines(), "rcpt")
                    if ln["rcpt"] == rcpt]
        return h.wait_for(find, 30.0, "cutoverd's rcpt line for " + rcpt)[0]

    def test_deferred_on_451_and_bounced_on_550(self):
        self.pf.submit("user@limbo.test", "limbo")
        self.pf.submit("someone@elsewhere.test", "elsewhere")
        ln = self.rcpt_line("user@limbo.test")
        self.assertEqual((ln["reply"], ln["decision"], ln["mail_from"],
                          ln["helo"]),
                         (LIMBO_REPLY, "defer", SENDER,
                          "sender.test.invalid"))
        ln = self.rcpt_line("someone@elsewhere.test")
        self.assertEqual(ln["decision"], "deny")

        def deferred():
            for e in self.pf.queue_entries():
                for r in e.get("recipients", []):
                    if r.get("address") == "user@limbo.test" and \
                            e.get("queue_name") == "deferred":
                        return r
            return None
        r = h.wait_for(deferred, 20.0, "the message in the deferred queue",
                       interval=0.3)
        self.assertIn(LIMBO_REPLY, r.get("delay_reason", ""), r)

        def bounced():
            return [ln for ln in self.pf.log_text().splitlines()
                    if "to=<someone@elsewhere.test>" in ln
                    and "status=bounced" in ln]
        b = h.wait_for(bounced, 20.0, "Postfix to bounce the unknown domain",
                       interval=0.3)
        self.assertIn("550 5.7.1", b[0])
        self.assertIn("relaying denied", b[0])
        self.d.check_alive()


if __name__ == "__main__":
    h.main()
