"""test_limits.py - every limit of README "Configuration" with small values.

Each limit is hit on a real cutoverd and must give the README reply AND an
attempt-log line (`limit`, or `refused` at accept); afterwards cutoverd
still serves a fresh session with 220.  Limits: max_line_length (500 5.5.2,
session goes on; past 4x: 421 4.7.0 and close), max_recipients (452 4.5.3),
max_message_size (552 5.3.4 at MAIL SIZE= and after the dot),
max_connections and per_ip (421 4.7.0 at connect), command_timeout and
data_timeout (421 4.4.2), max_errors (421 4.7.0).
"""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402

LIMBO_REPLY = "451 4.3.2 limbo.test is moving, please retry later"
DATA_REPLY = "451 4.3.2 data.test is moving, please retry later"
DOMAINS = {
    "limbo.test": {"state": "limbo", "defer_reply": LIMBO_REPLY},
    "data.test": {"state": "limbo", "defer_at": "data",
                  "defer_reply": DATA_REPLY},
}
LINE_MAX = 512
TOO_LONG = "500 5.5.2 Error: line too long"
TOO_BIG = "552 5.3.4 Error: message size exceeds fixed limit"
TOO_MANY_RCPTS = "452 4.5.3 Error: too many recipients"
TIMEOUT = "421 4.4.2 mx.test.invalid Error: timeout exceeded"
TOO_MANY_ERRORS = "421 4.7.0 mx.test.invalid Error: too many errors"
TOO_MANY_CONNS = "421 4.7.0 mx.test.invalid Error: too many connections"


def serving(d):
    """cutoverd still answers a fresh session with 220 (bounded retry: the
    server may not have noticed the test's closed connections yet)."""
    def fresh():
        with h.Raw(d.port) as c:
            r = c.read_reply()
            if r.code != 220:
                return False
            c.cmd("QUIT", "221")
            return True
    h.wait_for(fresh, 5.0, "a fresh session to get 220", interval=0.2)


def one_limit(test, d, port, name, reply, disconnect_reason=None):
    """Assert the session from port logged a `limit` line for name with
    reply (and, when given, the disconnect reason)."""
    ev = "disconnect" if disconnect_reason else "limit"
    lines = d.wait_event(port, ev)
    lim = [ln for ln in h.events(lines, "limit") if ln["limit"] == name]
    test.assertTrue(lim, "no limit line %r in %r" % (name, lines))
    test.assertEqual(lim[0]["reply"], reply)
    test.assertEqual((lim[0]["ip"], lim[0]["port"]), ("127.0.0.1", port))
    if disconnect_reason:
        test.assertEqual(h.events(lines, "disconnect")[0]["reason"],
                         disconnect_reason)
    return lines


class Base(h.CutoverdCase):
    LIMITS = {}

    @classmethod
    def config(cls):
        return {"limits": cls.LIMITS, "domains": DOMAINS}

    def tearDown(self):
        super().tearDown()
        serving(self.d)

    def session(self):
        c = self.d.client()
        c.cmd("EHLO client.test", "250")
        return c


class LineAndSizeLimits(Base):
    LIMITS = {"max_line_length": LINE_MAX, "max_recipients": 3,
              "max_message_size": 1000}

    def noop(self, total):
        """A NOOP command line of `total` bytes including CRLF."""
        return b"NOOP " + b"x" * (total - 7) + b"\r\n"

    def test_line_length(self):
        with self.session() as c:
            c.send(self.noop(LINE_MAX))
            c.expect("250")
            for total in (LINE_MAX + 1, 2 * LINE_MAX, 4 * LINE_MAX):
                with self.subTest(total=total):
                    c.send(self.noop(total))
                    self.assertEqual(c.read_reply().line, TOO_LONG)
                    c.cmd("NOOP", "250")
            c.cmd("QUIT", "221")
        one_limit(self, self.d, c.local_port, "line_length", TOO_LONG)

    def test_line_far_too_long_closes(self):
        for name, data in (("with CRLF", self.noop(10 * LINE_MAX)),
                           ("no line end", b"NOOP " + b"x" * 10 * LINE_MAX)):
            with self.subTest(name):
                with self.session() as c:
                    c.send(data)
                    r = c.expect("421 4.7.0")
                    c.expect_closed()
                one_limit(self, self.d, c.local_port, "line_length", r.line,
                          "line_too_long")

    def test_recipients(self):
        with self.session() as c:
            c.cmd("MAIL FROM:<s@example.org>", "250")
            for i in range(3):
                self.assertEqual(c.cmd("RCPT TO:<u%d@limbo.test>" % i,
                                       "451").line, LIMBO_REPLY)
            for i in range(2):
                self.assertEqual(c.cmd("RCPT TO:<v%d@limbo.test>" % i,
                                       "452").line, TOO_MANY_RCPTS)
            c.cmd("RSET", "250")
            c.cmd("MAIL FROM:<s@example.org>", "250")
            c.cmd("RCPT TO:<u@data.test>", "250")
            c.cmd("RCPT TO:<v@limbo.test>", "451")
            c.cmd("RCPT TO:<w@data.test>", "250")
            self.assertEqual(c.cmd("RCPT TO:<x@data.test>", "452").line,
                             TOO_MANY_RCPTS)
            c.cmd("QUIT", "221")
        one_limit(self, self.d, c.local_port, "recipients", TOO_MANY_RCPTS)

    def test_size_at_mail(self):
        with self.session() as c:
            r = c.cmd("EHLO client.test", "250")
            self.assertIn("SIZE 1000", r.texts)
            self.assertEqual(c.cmd("MAIL FROM:<s@example.org> SIZE=1001",
                                   "552").line, TOO_BIG)
            c.cmd("MAIL FROM:<s@example.org> SIZE=1000", "250")
            c.cmd("QUIT", "221")
        one_limit(self, self.d, c.local_port, "message_size", TOO_BIG)

    def test_size_at_data(self):
        with self.session() as c:
            c.cmd("MAIL FROM:<s@example.org>", "250")
            c.cmd("RCPT TO:<u@data.test>", "250")
            c.cmd("DATA", "354")
            c.send(b"Subject: big\r\n\r\n" + b"y" * 70 + b"\r\n")
            c.send((b"z" * 70 + b"\r\n") * 40 + b".\r\n")
            self.assertEqual(c.read_reply().line, TOO_BIG)
            c.cmd("NOOP", "250")
            c.cmd("MAIL FROM:<s@example.org>", "250")
            c.cmd("QUIT", "221")
        one_limit(self, self.d, c.local_port, "message_size", TOO_BIG)


class MaxConnections(Base):
    LIMITS = {"max_connections": 3, "per_ip": 10}

    def test_max_connections(self):
        clients = [self.d.client() for _ in range(3)]
        try:
            with h.Raw(self.d.port) as extra:
                self.assertEqual(extra.read_reply().line, TOO_MANY_CONNS)
                extra.expect_closed()
            lines = self.d.wait_event(extra.local_port, "refused")
            ref = h.events(lines, "refused")[0]
            self.assertEqual((ref["ip"], ref["limit"], ref["reply"]),
                             ("127.0.0.1", "max_connections", TOO_MANY_CONNS))
            clients.pop().close()
            serving(self.d)
        finally:
            for c in clients:
                c.close()


class PerIp(Base):
    LIMITS = {"max_connections": 20, "per_ip": 2}

    def refused(self, source):
        with h.Raw(self.d.port, source=source) as extra:
            self.assertEqual(extra.read_reply().line,
                             TOO_MANY_CONNS + " from " + source)
            extra.expect_closed()
        lines = self.d.wait_event(extra.local_port, "refused", ip=source)
        ref = h.events(lines, "refused")[0]
        self.assertEqual((ref["limit"], ref["reply"]),
                         ("per_ip", TOO_MANY_CONNS + " from " + source))

    def test_per_ip(self):
        clients = []
        try:
            for source in ("127.0.0.1", "127.0.0.2"):
                for _ in range(2):
                    c = h.Raw(self.d.port, source=source)
                    clients.append(c)
                    c.expect("220 ")
                self.refused(source)
            c = h.Raw(self.d.port, source="127.0.0.3")
            clients.append(c)
            c.expect("220 ")
            c.cmd("EHLO client.test", "250")
        finally:
            for c in clients:
                c.close()


class Timeouts(Base):
    LIMITS = {"command_timeout": 1, "data_timeout": 2}

    def test_command_timeout(self):
        with self.session() as c:
            start = time.monotonic()
            self.assertEqual(c.read_reply(timeout=5).line, TIMEOUT)
            took = time.monotonic() - start
            c.expect_closed()
        self.assertGreater(took, 0.7)
        one_limit(self, self.d, c.local_port, "command_timeout", TIMEOUT,
                  "timeout")

    def test_activity_keeps_session(self):
        with self.session() as c:
            for _ in range(5):
                time.sleep(0.4)
                c.cmd("NOOP", "250")
            c.cmd("QUIT", "221")

    def test_data_timeout(self):
        with self.session() as c:
            c.cmd("MAIL FROM:<s@example.org>", "250")
            c.cmd("RCPT TO:<u@data.test>", "250")
            c.cmd("DATA", "354")
            c.send(b"Subject: slow\r\n")
            start = time.monotonic()
            self.assertEqual(c.read_reply(timeout=6).line, TIMEOUT)
            took = time.monotonic() - start
            c.expect_closed()
        self.assertGreater(took, 1.5, "data_timeout (2 s), not "
                           "command_timeout (1 s), applies inside DATA")
        one_limit(self, self.d, c.local_port, "data_timeout", TIMEOUT,
                  "timeout")


class MaxErrors(Base):
    LIMITS = {"max_errors": 3}

    def test_max_errors(self):
        errors = 0
        with self.session() as c:
            for _ in range(5):
                try:
                    c.send(b"FROB\r\n")
                except OSError:
                    pass
                r = c.read_reply()
                if r.code != 500:
                    break
                errors += 1
            self.assertEqual(r.line, TOO_MANY_ERRORS)
            c.expect_closed()
        self.assertIn(errors, (2, 3), "500 replies before the 421")
        lines = one_limit(self, self.d, c.local_port, "errors",
                          TOO_MANY_ERRORS, "errors")
        self.assertGreaterEqual(h.events(lines, "disconnect")[0]["errors"],
                                errors)


if __name__ == "__main__":
    h.main()
