"""test_reload.py - README "Running cutoverd": -n, signals, listen addresses.

`cutoverd -n -c FILE` exits 0 for a good file and 1 with "FILE:LINE: ..."
for a bad one; SIGHUP reloads atomically (a bad file is reported with
file:line and the running configuration stays in force; sessions that
started under the old snapshot keep it); SIGUSR1 reopens the attempt log
after rotation without losing a line; SIGTERM/SIGINT answer every open
session 421 4.3.2 and exit 0; several listen addresses, IPv6 loopback too
when this machine has it.
"""

import os
import re
import shutil
import signal
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402

REPLY_A = "451 4.3.2 limbo.test is moving (A), please retry later"
REPLY_B = "451 4.3.2 limbo.test is moving (B), please retry later"
SHUTDOWN = "421 4.3.2 mx.test.invalid Service shutting down"


def config(reply):
    return {"domains": {"limbo.test": {"state": "limbo",
                                       "defer_reply": reply}}}


HEAD = ['# cutoverd test configuration', '',
        'hostname = "mx.test.invalid"', 'listen = { "127.0.0.1:2525" }',
        '']
DOM = ['domain "a.test" {', '    state = limbo',
       '    defer_reply = "451 4.3.2 a.test is moving"', '}']

# (name, body lines) -- "# BAD" marks the line the error must name; for an
# error found after parsing a domain section, its "# DOMAIN" line is also
# accepted (the section is where the value was given).
BAD_CONFIGS = [
    ("unknown top-level key", ['bogus_key = 1  # BAD']),
    ("unknown key in domain", ['domain "a.test" {  # DOMAIN',
                               '    colour = "red"  # BAD', '}']),
    ("bad state", ['domain "a.test" {  # DOMAIN', '    state = frozen  # BAD',
                   '}']),
    ("state live is refused", ['domain "a.test" {  # DOMAIN',
                               '    state = live  # BAD', '}']),
    ("bad defer_at", ['domain "a.test" {  # DOMAIN',
                      '    defer_at = never  # BAD', '}']),
    ("5xx defer_reply", ['domain "a.test" {  # DOMAIN',
                         '    defer_reply = "550 5.7.1 no"  # BAD', '}']),
    ("defer_reply without enhanced code",
     ['domain "a.test" {  # DOMAIN',
      '    defer_reply = "451 try later"  # BAD', '}']),
    ("defer_reply with 5.x.y code",
     ['domain "a.test" {  # DOMAIN',
      '    defer_reply = "451 5.3.2 try later"  # BAD', '}']),
    ("bad default_defer_reply", ['default_defer_reply = "250 ok"  # BAD']),
    ("domain twice", DOM + ['domain "a.test" {  # BAD',
                            '    state = limbo', '}']),
    ("domain twice, other case", DOM + ['domain "A.Test" {  # BAD',
                                        '    state = limbo', '}']),
    ("domain twice, U-label and A-label",
     ['domain "münchen.example" {', '    state = limbo', '}',
      'domain "xn--mnchen-3ya.example" {  # BAD', '    state = limbo',
      '}']),
    ("limit not a number", ['limits {', '    max_errors = "lots"  # BAD',
                            '}']),
    ("stray closing brace", ['}  # BAD']),
]


def marked(lines, mark):
    return {i + 1 for i, ln in enumerate(lines) if ln.endswith(mark)}


def error_lines(stderr, path):
    return {int(n) for n in re.findall(re.escape(path) + r":(\d+): ", stderr)}


class CheckModeTest(unittest.TestCase):
    def test_good_configs(self):
        d = tempfile.mkdtemp(prefix="cutover-n-")
        text = h.render_config({
            "default_defer_reply": "451 4.3.2 %d is moving",
            "limits": {"max_connections": 10, "per_ip": 2,
                       "max_recipients": 5, "max_message_size": 1000,
                       "max_line_length": 1000, "max_errors": 3,
                       "command_timeout": 5, "data_timeout": 5,
                       "backlog": 16},
            "domains": {"a.test": {"state": "limbo", "defer_at": "data",
                                   "defer_reply": "451 4.3.2 moving"},
                        "münchen.example": {"state": "limbo"}}},
            [("127.0.0.1", 2525), ("::1", 2525)],
            os.path.join(d, "attempts.jsonl"))
        try:
            rc, out, err, path = h.check_config(text, d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        self.assertEqual(rc, 0, err)
        src = h.env_path("CUTOVER_SOURCE_DIR")
        for name in ("conf/cutoverd.conf", "conf/demo.conf"):
            with self.subTest(name):
                path = os.path.join(src, name)
                self.assertTrue(os.path.exists(path),
                                "README names %s; it is missing" % name)
                r = h.run([h.cutoverd_path(), "-n", "-c", path], timeout=20)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_configs(self):
        for name, body in BAD_CONFIGS:
            with self.subTest(name):
                lines = HEAD + body
                rc, out, err, path = h.check_config("\n".join(lines) + "\n")
                self.assertEqual(rc, 1, err)
                got = error_lines(err, path)
                want = marked(lines, "# BAD") | marked(lines, "# DOMAIN")
                self.assertTrue(got, "no %s:LINE: in stderr %r" % (path, err))
                self.assertTrue(got <= want,
                                "stderr names line(s) %s, want one of %s: %r"
                                % (sorted(got), sorted(want), err))

    def test_missing_file(self):
        path = "/nonexistent/cutoverd.conf"
        r = h.run([h.cutoverd_path(), "-n", "-c", path], timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr)


class SignalTest(unittest.TestCase):
    def setUp(self):
        self.d = h.Cutoverd(config(REPLY_A)).start()

    def tearDown(self):
        self.d.stop()

    def rcpt_reply(self):
        with self.d.client() as c:
            c.cmd("EHLO client.test", "250")
            c.cmd("MAIL FROM:<s@example.org>", "250")
            r = c.cmd("RCPT TO:<u@limbo.test>", "451")
            c.cmd("QUIT", "221")
        return r.line

    def test_sighup_reload(self):
        old = self.d.client()
        old.cmd("EHLO client.test", "250")
        self.assertEqual(self.rcpt_reply(), REPLY_A)
        self.d.write_config(config(REPLY_B))
        self.d.signal(signal.SIGHUP)
        h.wait_for(lambda: self.rcpt_reply() == REPLY_B, 5.0,
                   "new sessions to get the reloaded defer_reply")
        with old:
            old.cmd("MAIL FROM:<s@example.org>", "250")
            self.assertEqual(old.cmd("RCPT TO:<u@limbo.test>", "451").line,
                             REPLY_A, "a session keeps its snapshot")
        self.d.check_alive()

    def test_sighup_bad_file_keeps_config(self):
        bad = "\n".join(HEAD[:1] + ['', 'no_such_setting = 1']) + "\n"
        with open(self.d.conf_path, "w", encoding="utf-8") as f:
            f.write(bad)
        self.d.signal(signal.SIGHUP)
        where = "%s:3:" % self.d.conf_path
        h.wait_for(lambda: where in self.d.stderr(), 5.0,
                   "%r in stderr after a bad reload" % where)
        self.assertEqual(self.rcpt_reply(), REPLY_A)
        self.d.write_config(config(REPLY_B))
        self.d.signal(signal.SIGHUP)
        h.wait_for(lambda: self.rcpt_reply() == REPLY_B, 5.0,
                   "a good reload after a bad one")
        self.d.check_alive()

    def session_ports(self, n):
        ports = []
        for _ in range(n):
            with self.d.client() as c:
                c.cmd("EHLO client.test", "250")
                c.cmd("MAIL FROM:<s@example.org>", "250")
                c.cmd("RCPT TO:<u@limbo.test>", "451")
                c.cmd("QUIT", "221")
                c.expect_closed()
            ports.append(c.local_port)
        return ports

    def test_sigusr1_reopens_log(self):
        log, rotated = self.d.log_path, self.d.log_path + ".1"
        before = self.session_ports(2)
        h.wait_for(lambda: len(h.events(self.d.log_lines(),
                                        "disconnect")) >= 3, 5.0,
                   "disconnect lines before the rotation")
        os.rename(log, rotated)
        between = self.session_ports(1)
        self.d.signal(signal.SIGUSR1)
        h.wait_for(lambda: os.path.exists(log), 5.0,
                   "a new attempt log after SIGUSR1")
        after = self.session_ports(2)
        want = {p: ["connect", "rcpt", "disconnect"]
                for p in before + between + after}

        def sessions():
            lines = self.d.log_lines(rotated) + self.d.log_lines(log)
            sids = {ln["port"]: ln["sid"] for ln in lines
                    if ln["ev"] == "connect" and ln["port"] in want}
            got = {p: [ln["ev"] for ln in lines if ln["sid"] == sids.get(p)]
                   for p in want}
            return got if got == want else None
        h.wait_for(sessions, 5.0, "every session's lines in the two files")
        new = self.d.log_lines(log)
        for p in after:
            self.assertEqual(len([ln for ln in new if ln.get("port") == p
                                  and ln["ev"] == "connect"]), 1,
                             "session after SIGUSR1 logs to the new file")
        self.d.log_lines(rotated, complete=True)

    def graceful(self, sig):
        clients = [self.d.client() for _ in range(2)]
        clients[0].cmd("EHLO client.test", "250")
        clients[1].cmd("EHLO client.test", "250")
        clients[1].cmd("MAIL FROM:<s@example.org>", "250")
        self.d.expect_exit = True
        self.d.signal(sig)
        for c in clients:
            with c:
                self.assertEqual(c.read_reply().line, SHUTDOWN)
                c.expect_closed()
        self.assertEqual(self.d.proc.wait(timeout=5), 0)
        lines = self.d.log_lines(complete=True)
        for c in clients:
            disc = [ln for ln in lines if ln["ev"] == "disconnect"
                    and ln.get("port") == c.local_port]
            self.assertEqual([ln["reason"] for ln in disc], ["shutdown"])

    def test_sigterm_open_sessions(self):
        self.graceful(signal.SIGTERM)

    def test_sigint_open_sessions(self):
        self.graceful(signal.SIGINT)


class ListenTest(unittest.TestCase):
    def test_two_listen_addresses(self):
        v6 = h.ipv6_loopback_ok()
        second = ("::1", h.free_port("::1")) if v6 else \
            ("127.0.0.1", h.free_port())
        listen = [("127.0.0.1", h.free_port()), second]
        with h.Cutoverd(config(REPLY_A), listen=listen) as d:
            for host, port in listen:
                with self.subTest(host=host, port=port):
                    with h.Raw(port, host) as c:
                        self.assertEqual(c.read_reply().line,
                                         "220 mx.test.invalid ESMTP cutoverd")
                        c.cmd("EHLO client.test", "250")
                        c.cmd("MAIL FROM:<s@example.org>", "250")
                        self.assertEqual(
                            c.cmd("RCPT TO:<u@limbo.test>", "451").line,
                            REPLY_A)
                        c.cmd("QUIT", "221")
                    lines = d.wait_event(c.local_port, "disconnect", ip=host)
                    con = h.events(lines, "connect")[0]
                    self.assertEqual((con["lip"], con["lport"]), (host, port))
        if not v6:
            print("note: [::1] cannot be bound on this machine; the second "
                  "address is a second IPv4 port", file=sys.stderr)


if __name__ == "__main__":
    h.main()
