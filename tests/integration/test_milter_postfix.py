"""test_milter_postfix.py - cutover-milter plugged into a real Postfix.

A private Postfix instance (own config, queue and data directories in a
temporary directory; loopback only; relay_peers.PrivatePostfix) has
an smtpd on 127.0.0.1:PORT with smtpd_milters = inet:127.0.0.1:MPORT
(the lines of contrib/postfix-milter.snippet) and delivers dest.example
mail to a maildir through the virtual transport.  swaks sends an
SPF-passing message whose body carries a forged Authentication-Results
(our authserv-id) and a foreign one; the delivered file must hold exactly
one A-R with our id, first, with spf=pass and dmarc=pass, and the foreign
A-R, but not the forgery.  A DMARC-failing message with p=reject is
refused by Postfix with our 550 5.7.1 (MAIL FROM in another domain: the
SPF layer currently passes any loopback client, whatever the record).
"""

import glob
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "milter"))
import cutover_harness as h  # noqa: E402
import loopback_dns  # noqa: E402
import milter_harness as mh  # noqa: E402
import relay_peers as rp  # noqa: E402

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.test.invalid
mydomain = test.invalid
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = {top}/maillog
maillog_file_prefixes = {top}
syslog_name = postfix-cutover-milter-test
alias_maps =
alias_database =
smtputf8_enable = no
smtpd_tls_security_level = none
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = dest.example
virtual_mailbox_base = {top}/mail
virtual_mailbox_maps = inline:{{ rcpt@dest.example=rcpt/ }}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_milters = inet:127.0.0.1:{mport}
non_smtpd_milters = inet:127.0.0.1:{mport}
milter_default_action = tempfail
milter_protocol = 6
biff = no
"""

SMTPD_LINE = ("127.0.0.1:{port} inet n - n - - smtpd\n")


class MilterPostfix(rp.PrivatePostfix):
    """relay_peers' private Postfix, with our main.cf and an smtpd."""

    def __init__(self, port, mport):
        super().__init__("milter")
        import pwd
        pw = pwd.getpwnam("nobody")
        mail = os.path.join(self.top, "mail")
        os.mkdir(mail)
        os.chown(mail, pw.pw_uid, pw.pw_gid)
        self.mail = mail
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(queue=self.queue, top=self.top, mport=mport,
                                   data=os.path.join(self.top, "data"),
                                   uid=pw.pw_uid, gid=pw.pw_gid))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(SMTPD_LINE.format(port=port) + rp.MASTER_CF +
                    "virtual   unix  -       n       n       -       -       "
                    "virtual\n")

    def delivered(self):
        files = glob.glob(os.path.join(self.mail, "rcpt", "new", "*"))
        out = []
        for p in files:
            with open(p, errors="replace") as f:
                out.append(f.read())
        return out


def swaks(port, mailfrom, frm, extra_headers, helo="client.example"):
    hdrs = []
    for x in extra_headers:
        hdrs += ["--add-header", x]
    r = h.run([h.need_tool("swaks"), "--server", "127.0.0.1:%d" % port,
               "--helo", helo, "--from", mailfrom, "--to", "rcpt@dest.example",
               "--header", "From: <%s>" % frm, "--header",
               "Subject: milter test"] + hdrs + ["--body", "hello\n"],
              timeout=60)
    return r.returncode, r.stdout + r.stderr


class MilterPostfixTest(unittest.TestCase):
    def setUp(self):
        self.dns = loopback_dns.LoopbackDNS(records=[
            ("spfonly.example", "TXT", "v=spf1 ip4:127.0.0.1 -all"),
            ("_dmarc.spfonly.example", "TXT", "v=DMARC1; p=reject"),
            ("reject.example", "TXT", "v=spf1 -all"),
            ("_dmarc.reject.example", "TXT", "v=DMARC1; p=reject")]).start()
        self.addCleanup(self.dns.stop)
        self.milter = mh.Milter("action { dmarc_reject = reject }\n",
                                self.dns.resolver).start()
        self.addCleanup(self.milter.stop)
        self.port = h.free_port()
        self.pf = MilterPostfix(self.port, self.milter.port)
        self.addCleanup(self.pf.stop)
        self.pf.start()
        h.wait_for(lambda: self._listening(), 10.0, "Postfix smtpd")

    def _listening(self):
        try:
            with h.Raw(self.port, "127.0.0.1", timeout=2.0) as c:
                c.expect("220")
            return True
        except (OSError, AssertionError):
            return False

    def test_authentication_results_in_delivered_mail(self):
        rc, out = swaks(self.port, "a@spfonly.example", "a@spfonly.example", [
            "Authentication-Results: %s; dmarc=pass" % mh.AUTHSERV_ID,
            "Authentication-Results: other.example; spf=pass"])
        self.assertEqual(rc, 0, out)
        msgs = h.wait_for(self.pf.delivered, 30.0, "the delivered message",
                          interval=0.3)
        head = msgs[0].split("\n\n", 1)[0]
        fields = re.findall(r"^Authentication-Results:(.*(?:\n[ \t].*)*)",
                            head, re.M)
        ours = [f for f in fields if f.strip().startswith(mh.AUTHSERV_ID)]
        self.assertEqual(len(ours), 1, head)
        flat = re.sub(r"\s+", " ", ours[0])
        self.assertRegex(flat, r"spf=pass smtp\.mailfrom=a@spfonly\.example")
        self.assertRegex(flat, r"dkim=none")
        self.assertRegex(flat, r"dmarc=pass \(p=reject dis=none\) "
                         r"header\.from=spfonly\.example")
        self.assertNotIn("dmarc=pass\n", "\n".join(fields))
        self.assertTrue(any("other.example" in f for f in fields), head)
        # The milter asks Postfix for the queue ID macro only at the end of
        # the message (smfi_setsymlist): its verdict line must carry it.
        qid = re.search(r"with E?SMTPS? id ([0-9A-Za-z]+)", head)
        self.assertIsNotNone(qid, head)
        self.assertIn("%s: ip=" % qid.group(1), self.milter.log_text())
        self.milter.check_alive()

    def test_dmarc_reject_refused_by_postfix(self):
        # The envelope domain is not the From domain, so DMARC fails on
        # alignment whatever SPF says about a loopback client.
        rc, out = swaks(self.port, "b@other.example", "a@reject.example", [])
        self.assertNotEqual(rc, 0, out + self.milter.log_text())
        self.assertIn("550 5.7.1 DMARC policy of reject.example rejects this "
                      "message", out)
        self.milter.check_alive()


if __name__ == "__main__":
    h.main()
