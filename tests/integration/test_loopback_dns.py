"""test_loopback_dns.py - self-test of the loopback DNS server (loopback_dns.py).

Covers what the other tests rely on: A, AAAA, MX, PTR answers; TXT with
several strings, odd bytes (quotes, backslash, ', ;, #, NUL, 8-bit) and a
string over 255 bytes; NXDOMAIN for names not given, NODATA for a given name
without the asked type; a timeout entry for all types and one for a single
type answering SERVFAIL in under a second; stop() really ends the server.
Client: the module's own UDP query() (dig is not installed).
"""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import loopback_dns as ld  # noqa: E402

ODD = b'say "hi" \\ it\'s; #1 \x00\x01\xff'
LONG = "v=spf1 " + "ip4:192.0.2.1 " * 30 + "-all"
RECORDS = [
    ("a.test", "A", "192.0.2.1"),
    ("a.test", "A", "192.0.2.2"),
    ("a.test", "AAAA", "2001:db8::1"),
    ("a.test", "MX", "10 mx1.a.test."),
    ("a.test", "MX", "20 mx2.a.test."),
    ("1.2.0.192.in-addr.arpa", "PTR", "a.test."),
    ("multi.test", "TXT", ["v=spf1 ", "ip4:192.0.2.0/24 ", "-all"]),
    ("odd.test", "TXT", [ODD]),
    ("pres.test", "TXT", '"one" "it\'s two"'),
    ("long.test", "TXT", LONG),
    ("some.timeout.test", "A", "192.0.2.7"),
    ("typed.test", "A", "192.0.2.8"),
    ("two  spaces.test", "A", "192.0.2.9"),
]
TIMEOUTS = [("timeout.test", None), ("typed.test", "TXT")]
FAST = 1.0


class LoopbackDNSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = ld.LoopbackDNS(RECORDS, TIMEOUTS).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def ask(self, name, qtype):
        return ld.query(self.dns.port, name, qtype, timeout=3.0)

    def test_resolver_string(self):
        self.assertEqual(self.dns.resolver, "127.0.0.1@%d" % self.dns.port)

    def test_answers(self):
        cases = [
            ("a.test", "A", ["192.0.2.1", "192.0.2.2"]),
            ("a.test", "AAAA", ["2001:db8::1"]),
            ("a.test", "MX", [(10, "mx1.a.test"), (20, "mx2.a.test")]),
            ("1.2.0.192.in-addr.arpa", "PTR", ["a.test"]),
            ("multi.test", "TXT", [[b"v=spf1 ", b"ip4:192.0.2.0/24 ",
                                    b"-all"]]),
            ("odd.test", "TXT", [[ODD]]),
            ("pres.test", "TXT", [[b"one", b"it's two"]]),
            ("some.timeout.test", "A", ["192.0.2.7"]),
            ("typed.test", "A", ["192.0.2.8"]),
            ("two  spaces.test", "A", ["192.0.2.9"]),
        ]
        for name, qtype, want in cases:
            with self.subTest(name=name, qtype=qtype):
                got = self.ask(name, qtype)
                self.assertEqual(got.rcode, ld.RCODE_NOERROR)
                self.assertEqual(sorted(got.of_type(qtype)), sorted(want))

    def test_long_txt_split(self):
        got = self.ask("long.test", "TXT").of_type("TXT")
        self.assertEqual(len(got), 1)
        self.assertGreater(len(got[0]), 1)
        self.assertTrue(all(len(s) <= 255 for s in got[0]))
        self.assertEqual(b"".join(got[0]), LONG.encode())

    def test_nxdomain_nodata(self):
        cases = [
            ("nosuch.test", "A", ld.RCODE_NXDOMAIN),
            ("example.com", "TXT", ld.RCODE_NXDOMAIN),
            ("a.test", "TXT", ld.RCODE_NOERROR),
            ("multi.test", "A", ld.RCODE_NOERROR),
        ]
        for name, qtype, rcode in cases:
            with self.subTest(name=name, qtype=qtype):
                got = self.ask(name, qtype)
                self.assertEqual(got.rcode, rcode)
                self.assertEqual(got.answers, [])

    def test_timeouts_fast_servfail(self):
        cases = [("timeout.test", "TXT"), ("timeout.test", "A"),
                 ("x.timeout.test", "MX"), ("typed.test", "TXT")]
        for name, qtype in cases:
            with self.subTest(name=name, qtype=qtype):
                t0 = time.monotonic()
                got = self.ask(name, qtype)
                took = time.monotonic() - t0
                self.assertEqual(got.rcode, ld.RCODE_SERVFAIL)
                self.assertLess(took, FAST)

    def test_bad_input_rejected(self):
        for rec in [("bad'name.test", "A", "192.0.2.1"),
                    ("bad\nname.test", "A", "192.0.2.1"),
                    ("x.test", "TXT", '"a"\n"b"')]:
            with self.subTest(rec=rec):
                with self.assertRaises(ValueError):
                    ld.LoopbackDNS([rec])


class StopTest(unittest.TestCase):
    def test_stop_ends_server(self):
        dns = ld.LoopbackDNS([("s.test", "A", "192.0.2.3")])
        with dns:
            pid = dns.proc.pid
            self.assertEqual(ld.query(dns.port, "s.test", "A").of_type("A"),
                             ["192.0.2.3"])
        self.assertIsNotNone(dns.proc.returncode)
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)


if __name__ == "__main__":
    h.main()
