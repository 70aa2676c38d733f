"""test_fd_exhaustion.py - cutoverd out of file descriptors (STYLE.md
"Errors and limits": when fds run out, pause accepting).

cutoverd runs under `prlimit --nofile=64:64` with max_connections and
per_ip far above 64, and ~150 clients connect at once from ten 127.0.0.x
source addresses.  accept(2) then fails with EMFILE; cutoverd must not
crash or spin on the error (its CPU time over a few seconds, from
/proc/PID/stat, stays small), must say on stderr that it paused accepting,
and every connection it did accept must have its 220 and a working
session.  Once the clients close, accepting resumes: a new connection gets
220 promptly.  The attempt log stays intact (every line whole JSON, every
connect matched by a disconnect, no `refused` line: no limit was hit).
Every wait is bounded.
"""

import os
import select
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402

NOFILE = 64
CLIENTS = 150
SOURCES = ["127.0.0.%d" % i for i in range(1, 11)]
CPU_WINDOW = 3.0          # seconds of wall time to measure CPU over
CPU_MAX = 0.75            # CPU seconds allowed in that window (no spinning)
LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"
CONFIG = {
    "limits": {"max_connections": 5000, "per_ip": 1000, "backlog": 1024},
    "domains": {"limbo.test": {"state": "limbo",
                               "defer_reply": LIMBO_REPLY}},
}
PAUSED = "pausing new connections"


class LowNofileCutoverd(h.Cutoverd):
    """The harness's cutoverd, started through prlimit (which execs it, so
    the PID is cutoverd's own)."""

    def start(self):
        argv = [h.need_tool("prlimit"), "--nofile=%d:%d" % (NOFILE, NOFILE),
                "--", self.binary, "-c", self.conf_path]
        self.errfile = open(self.stderr_path, "wb")
        self.proc = h.subprocess.Popen(
            argv, stdin=h.subprocess.DEVNULL, stdout=self.errfile,
            stderr=self.errfile, env=h.sanitizer_env())
        try:
            self.probe_port = self.wait_ready()
        except BaseException:
            self.stop(check=False)
            raise
        return self


def cpu_seconds(pid):
    """utime + stime of pid, in seconds (proc(5) fields 14 and 15)."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        stat = f.read().decode("ascii", "replace")
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def nofile_limit(pid):
    with open("/proc/%d/limits" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3]), int(line.split()[4])
    raise AssertionError("no 'Max open files' in /proc/%d/limits" % pid)


def greeted(clients, timeout):
    """Read what arrives on clients for up to timeout seconds (stopping
    early once nothing new came for a second); returns the clients whose
    first line arrived, each checked to be the 220 greeting."""
    got = {}
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        waiting = [c for c in clients if c not in got]
        if not waiting:
            break
        ready, _, _ = select.select([c.sock for c in waiting], [], [], 0.2)
        for c in waiting:
            if c.sock in ready:
                got[c] = c.read_reply(timeout=2.0)
                quiet_since = time.monotonic()
        if not ready and time.monotonic() - quiet_since > 1.0:
            break
    for c, r in got.items():
        if not r.line.startswith("220 %s ESMTP" % h.HOSTNAME):
            raise AssertionError("accepted connection %s:%d got %r, want "
                                 "the 220 greeting"
                                 % (c.local_ip, c.local_port, r.lines))
    return list(got)


class FdExhaustion(unittest.TestCase):

    def test_pause_and_resume(self):
        with LowNofileCutoverd(CONFIG) as d:
            self.assertEqual(nofile_limit(d.proc.pid), (NOFILE, NOFILE))
            clients = []
            try:
                for i in range(CLIENTS):
                    clients.append(h.Raw(d.port,
                                         source=SOURCES[i % len(SOURCES)]))
                accepted = greeted(clients, 10.0)
                self.exhausted(d, clients, accepted)
            finally:
                for c in clients:
                    c.close()
            self.resumed(d)
            d.check_alive()
            self.assertEqual(d.terminate(), 0, d.stderr())
            self.check_log(d, accepted)

    def exhausted(self, d, clients, accepted):
        """cutoverd accepted some, not all, and waits without spinning."""
        self.assertGreater(len(accepted), 10, "cutoverd accepted almost "
                           "nothing:\n" + d.stderr())
        self.assertLess(len(accepted), NOFILE, "more sessions than the "
                        "descriptor limit allows: the limit did not apply")
        h.wait_for(lambda: PAUSED in d.stderr(), 5.0,
                   "a notice that accepting is paused")
        self.assertIn("Too many open files", d.stderr())
        before = cpu_seconds(d.proc.pid)
        time.sleep(CPU_WINDOW)
        used = cpu_seconds(d.proc.pid) - before
        d.check_alive()
        self.assertLess(used, CPU_MAX, "cutoverd used %.2f s of CPU in "
                        "%.1f s while out of descriptors (spinning?)"
                        % (used, CPU_WINDOW))
        # The sessions it has keep working while it cannot accept.
        for c in (accepted[0], accepted[-1]):
            c.cmd("EHLO client.test", "250")
            c.cmd("MAIL FROM:<s@example.org>", "250")
            self.assertEqual(c.cmd("RCPT TO:<u@limbo.test>", "451").line,
                             LIMBO_REPLY)
        waiting = [c for c in clients if c not in accepted]
        self.assertTrue(waiting)
        self.assertEqual(greeted(waiting, 0.5), [],
                         "a connection got its 220 late, while paused")

    def resumed(self, d):
        """A new connection is served promptly once descriptors are free."""
        start = time.monotonic()

        def fresh():
            try:
                with h.Raw(d.port, timeout=2.0) as c:
                    c.expect("220 ")
                    c.cmd("QUIT", "221")
                    return True
            except (AssertionError, OSError):
                return False
        h.wait_for(fresh, 10.0, "a new connection to get 220 after the "
                   "clients closed", interval=0.2)
        self.assertLess(time.monotonic() - start, 10.0)

    def check_log(self, d, accepted):
        """Read after the stop (SIGTERM, exit 0): whole lines, paired
        connect/disconnect."""
        lines = d.log_lines(complete=True)
        connects = {ln["sid"] for ln in h.events(lines, "connect")}
        disconnects = {ln["sid"] for ln in h.events(lines, "disconnect")}
        self.assertEqual(h.events(lines, "refused"), [])
        self.assertEqual(connects, disconnects)
        self.assertEqual(len(h.events(lines, "disconnect")), len(connects))
        # Probe + accepted + the backlog served after the close + fresh.
        self.assertGreaterEqual(len(connects), len(accepted) + 2)
        seen = {(ln["ip"], ln["port"]) for ln in h.events(lines, "connect")}
        for c in accepted:
            self.assertIn((c.local_ip, c.local_port), seen)
        self.assertEqual(len(h.events(lines, "rcpt")), 2)


if __name__ == "__main__":
    h.main()
