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

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import relay_peers as rp  # noqa: E402

LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"
CONFIG = {"domains": {"limbo.test": {"state": "limbo",
                                     "defer_reply": LIMBO_REPLY}}}
SENDER = "sender@sender.test.invalid"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = sender.test.invalid
mydomain = test.invalid
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
relayhost = [127.0.0.1]:{port}
maillog_file = {top}/maillog
maillog_file_prefixes = {top}
syslog_name = postfix-cutover-test
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 600s
biff = no
"""

# master.cf is the relay tests' private Postfix one
MASTER_CF = rp.MASTER_CF


class Postfix:
    """A private Postfix instance relaying everything to 127.0.0.1:port."""

    def __init__(self, port):
        self.postfix = h.need_tool("postfix")
        self.sendmail = h.need_tool("sendmail")
        self.postqueue = h.need_tool("postqueue")
        self.top = tempfile.mkdtemp(prefix="cutover-pf-")
        os.chmod(self.top, 0o755)
        self.conf = os.path.join(self.top, "etc")
        self.queue = os.path.join(self.top, "queue")
        self.maillog = os.path.join(self.top, "maillog")
        os.mkdir(self.conf)
        os.mkdir(self.queue, 0o755)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(queue=self.queue, top=self.top, port=port,
                                   data=os.path.join(self.top, "data")))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        self.master_pid = None

    def cmd(self, *args, timeout=60):
        r = h.run([self.postfix, "-c", self.conf] + list(args),
                  timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("postfix %s failed (%d): %s%s%s"
                                 % (" ".join(args), r.returncode, r.stdout,
                                    r.stderr, self.log_text()))
        return r

    def start(self):
        self.cmd("check")
        self.cmd("start")
        pidfile = os.path.join(self.queue, "pid", "master.pid")

        def master():
            try:
                with open(pidfile) as f:
                    return int(f.read().strip() or 0)
            except (FileNotFoundError, ValueError):
                return 0
        self.master_pid = h.wait_for(master, 10.0, "Postfix master.pid")
        h.wait_for(lambda: os.path.exists(
            os.path.join(self.queue, "public", "pickup")), 10.0,
            "Postfix pickup service")
        return self

    def stop(self):
        """postfix stop; make sure our master is gone (bounded)."""
        if self.master_pid is None:
            shutil.rmtree(self.top, ignore_errors=True)
            return
        pid, self.master_pid = self.master_pid, None
        rp.postfix_stop(self.postfix, self.conf, pid)
        shutil.rmtree(self.top, ignore_errors=True)

    def submit(self, rcpt, subject):
        msg = ("From: <%s>\nTo: <%s>\nSubject: %s\n"
               "Message-ID: <%s@sender.test.invalid>\n\nhello\n"
               % (SENDER, rcpt, subject, subject))
        r = h.run([self.sendmail, "-C", self.conf, "-f", SENDER, "-i", rcpt],
                  input=msg, timeout=30)
        if r.returncode != 0:
            raise AssertionError("sendmail failed: %s" % r.stderr)

    def queue_entries(self):
        r = h.run([self.postqueue, "-c", self.conf, "-j"], timeout=30)
        if r.returncode != 0:
            raise AssertionError("postqueue -j failed: %s" % r.stderr)
        return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]

    def log_text(self):
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


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
