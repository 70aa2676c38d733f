"""test_privileges.py - README "Configuration" `user`: drop privileges after
binding (main.c: bind and open the log as root, then become `user`).

As root (CI): with user = "nobody", cutoverd binds a privileged loopback
port, then all four ids of /proc/PID/status (real, effective, saved, fs)
are nobody's uid and nogroup's gid and no root group remains; it still
answers 220 and 451; SIGHUP reloads the configuration as nobody (the file
lives in a 0755 directory, mode 0644, so nobody can read it).  user =
"no-such-user-xyz" makes it exit non-zero naming the user.
Not as root (a developer's run), the same tests assert instead what a
start without root does: the notice "not started as root: user = nobody
ignored" (or no-such-user-xyz) and serving on.  And whoever runs it,
cutoverd started unprivileged gives that notice (as root the test starts
it as nobody, otherwise as the current user).
"""

import grp
import os
import pwd
import signal
import shutil
import socket
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402

USER = "nobody"
GROUP = "nogroup"
NO_USER = "no-such-user-xyz"
REPLY_A = "451 4.3.2 limbo.test is moving (A), please retry later"
REPLY_B = "451 4.3.2 limbo.test is moving (B), please retry later"


def config(reply, user=USER):
    return {"user": user,
            "domains": {"limbo.test": {"state": "limbo",
                                       "defer_reply": reply}}}


def is_root():
    return os.geteuid() == 0


def privileged_port():
    """A free TCP port below 1024 on 127.0.0.1 (only root can bind it)."""
    for port in range(1023, 600, -1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below 1024 on 127.0.0.1")


def status_ids(pid):
    """{"Uid": [r, e, s, fs], "Gid": [...], "Groups": [...]} of pid."""
    out = {}
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(v) for v in val.split()]
    return out


class ReadableCutoverd(h.Cutoverd):
    """A cutoverd whose directory and files another user can read (mode
    0755/0644); as_user starts the process as that user instead of the
    caller (root only), with the directory made theirs for the log."""

    def __init__(self, config_, as_user=None, **kw):
        super().__init__(config_, **kw)
        self.as_user = as_user
        os.chmod(self.dir, 0o755)
        os.chmod(self.conf_path, 0o644)
        if as_user is not None:
            pw = pwd.getpwnam(as_user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def write_config(self, config_):
        super().write_config(config_)
        os.chmod(self.conf_path, 0o644)

    def start(self):
        pre = None
        if self.as_user is not None:
            pw = pwd.getpwnam(self.as_user)

            def pre():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        self.errfile = open(self.stderr_path, "wb")
        self.proc = h.subprocess.Popen(
            [self.binary, "-c", self.conf_path], stdin=h.subprocess.DEVNULL,
            stdout=self.errfile, stderr=self.errfile, env=h.sanitizer_env(),
            preexec_fn=pre)
        try:
            self.probe_port = self.wait_ready()
        except BaseException:
            self.stop(check=False)
            raise
        return self


def limbo_session(test, d, reply):
    with d.client() as c:
        c.cmd("EHLO client.test", "250")
        c.cmd("MAIL FROM:<s@example.org>", "250")
        test.assertEqual(c.cmd("RCPT TO:<u@limbo.test>", "451").line, reply)
        c.cmd("QUIT", "221")


def ignored_notice(user):
    return "not started as root: user = %s ignored" % user


class Privileges(unittest.TestCase):
    """As root, the drop itself; otherwise (not CI) the same tests assert
    what a non-root start does instead: the notice, and serving on."""

    def not_root(self, user):
        with ReadableCutoverd(config(REPLY_A, user=user)) as d:
            h.wait_for(lambda: ignored_notice(user) in d.stderr(), 5.0,
                       "the notice %r" % ignored_notice(user))
            limbo_session(self, d, REPLY_A)
            d.check_alive()

    def test_drops_to_nobody(self):
        if not is_root():
            self.not_root(USER)
            return
        pw = pwd.getpwnam(USER)
        gid = grp.getgrnam(GROUP).gr_gid
        self.assertEqual(pw.pw_gid, gid, "nobody's group is not nogroup")
        listen = [("127.0.0.1", privileged_port())]
        with ReadableCutoverd(config(REPLY_A), listen=listen) as d:
            ids = status_ids(d.proc.pid)
            self.assertEqual(ids["Uid"], [pw.pw_uid] * 4)
            self.assertEqual(ids["Gid"], [gid] * 4)
            self.assertNotIn(0, ids["Groups"])
            self.assertNotIn(ignored_notice(USER), d.stderr())
            limbo_session(self, d, REPLY_A)
            d.write_config(config(REPLY_B))
            d.signal(signal.SIGHUP)
            h.wait_for(lambda: "reloaded" in d.stderr(), 5.0,
                       "a 'reloaded' notice after SIGHUP")
            self.assertNotIn("reload failed", d.stderr())
            limbo_session(self, d, REPLY_B)
            self.assertEqual(status_ids(d.proc.pid)["Uid"], [pw.pw_uid] * 4)
            d.check_alive()

    def test_unknown_user(self):
        if not is_root():
            self.not_root(NO_USER)
            return
        d = ReadableCutoverd(config(REPLY_A, user=NO_USER))
        try:
            r = h.run([d.binary, "-c", d.conf_path], timeout=20,
                      env=h.sanitizer_env())
        finally:
            shutil.rmtree(d.dir, ignore_errors=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("user %s: no such user" % NO_USER, r.stderr)
        self.assertEqual(h.sanitizer_report(r.stderr), [], r.stderr)

    def test_started_unprivileged(self):
        """As root, start cutoverd as nobody; else as the current user."""
        as_user = USER if is_root() else None
        uid = pwd.getpwnam(USER).pw_uid if is_root() else os.getuid()
        with ReadableCutoverd(config(REPLY_A), as_user=as_user) as d:
            h.wait_for(lambda: ignored_notice(USER) in d.stderr(), 5.0,
                       "the notice %r" % ignored_notice(USER))
            self.assertEqual(status_ids(d.proc.pid)["Uid"], [uid] * 4)
            limbo_session(self, d, REPLY_A)
            d.check_alive()


if __name__ == "__main__":
    h.main()
