"""test_auth_dns.py - milter/dns.c (libunbound) against a loopback unbound.

Runs tests/tools/auth_dns_query (one struct auth_dns, one thread per
lookup) and checks: A, AAAA, MX (with preferences), PTR, CNAME followed;
TXT strings joined and odd bytes kept, several TXT records; NXDOMAIN,
NODATA; SERVFAIL and an unanswering server both TEMPFAIL, the latter
within the lookup timeout; PTR for 192.0.2.x, 10.x and 2001:db8::
answered by the resolver rather than by libunbound's built-in empty
zones; a TXT record without strings (illegal, RFC 1035 3.3.14) is
TEMPFAIL (libunbound rejects the answer); 16 lookups at once; answers
kept for their TTL (a repeat counts as a cache hit, a failure never does,
an expired answer is asked again).
"""

import os
import socket
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import loopback_dns as ld  # noqa: E402

ODD = b'say "hi" \\ x\x00y \xff'
RECORDS = [
    ("host.example.org", "A", "192.0.2.1"),
    ("host.example.org", "A", "192.0.2.2"),
    ("host.example.org", "AAAA", "2001:db8::1"),
    ("alias.example.org", "CNAME", "host.example.org."),
    ("example.org", "MX", "10 mx1.example.org."),
    ("example.org", "MX", "20 mx2.example.org."),
    ("1.2.0.192.in-addr.arpa", "PTR", "host.example.org."),
    ("5.0.0.10.in-addr.arpa", "PTR", "lan.example.org."),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
     ".ip6.arpa", "PTR", "host.example.org."),
    ("multi.example.org", "TXT", ["v=spf1 ", "ip4:192.0.2.0/24 ", "-all"]),
    ("odd.example.org", "TXT", [ODD]),
    ("two.example.org", "TXT", "first"),
    ("two.example.org", "TXT", "second"),
    ("empty.example.org", "TXT", []),
]
TIMEOUTS = [("broken.example.org", None)]
TIMEOUT_MS = 400


def tool():
    build = os.environ.get("CUTOVER_BUILD_DIR")
    if not build:
        raise AssertionError("CUTOVER_BUILD_DIR is not set (run via ctest)")
    path = os.path.join(build, "tools", "auth_dns_query")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not built" % path)
    return path


def lookup(resolver, pairs, timeout_ms=TIMEOUT_MS, sequential=False,
           stats=None):
    """-> list of (status, ms, records) in the order of pairs (WAIT pairs
    left out); stats, a dict, gets the tool's lookups and cache_hits."""
    argv = [tool()] + (["-s"] if sequential else []) + [resolver,
                                                       str(timeout_ms)]
    for name, qtype in pairs:
        argv += [name, qtype]
    r = subprocess.run(argv, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("auth_dns_query failed: %r" % r.stderr)
    out = []
    for line in r.stdout.decode("ascii").splitlines():
        if line.startswith("# "):
            if stats is not None:
                stats.update((k, int(v)) for k, v in
                             (w.split("=") for w in line[2:].split()))
            continue
        words = line.split(" ", 4)
        recs = words[4] if len(words) > 4 else ""
        out.append((words[2], int(words[3]), recs))
    return out


class AuthDnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = ld.LoopbackDNS(RECORDS, TIMEOUTS).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def one(self, name, qtype):
        return lookup(self.dns.resolver, [(name, qtype)])[0]

    def test_answers(self):
        cases = [
            ("host.example.org", "A", "192.0.2.1 192.0.2.2"),
            ("host.example.org", "AAAA", "2001:db8::1"),
            ("alias.example.org", "A", "192.0.2.1 192.0.2.2"),
            ("example.org", "MX", "10 mx1.example.org 20 mx2.example.org"),
            ("multi.example.org", "TXT", "v=spf1\\x20ip4:192.0.2.0/24\\x20-all"),
            ("odd.example.org", "TXT",
             "say\\x20\"hi\"\\x20\\x5c\\x20x\\x00y\\x20\\xff"),
        ]
        for name, qtype, want in cases:
            with self.subTest(name=name, qtype=qtype):
                st, _ms, recs = self.one(name, qtype)
                self.assertEqual(st, "ok")
                if qtype == "MX":
                    w = recs.split()
                    got = " ".join("%s %s" % p
                                   for p in sorted(zip(w[::2], w[1::2])))
                elif qtype == "TXT":
                    got = recs
                else:
                    got = " ".join(sorted(recs.split()))
                self.assertEqual(got, want)

    def test_two_txt_records(self):
        st, _ms, recs = self.one("two.example.org", "TXT")
        self.assertEqual(st, "ok")
        self.assertEqual(sorted(recs.split(" | ")), ["first", "second"])

    def test_reverse_zones_from_the_resolver(self):
        cases = [("1.2.0.192.in-addr.arpa", "host.example.org"),
                 ("5.0.0.10.in-addr.arpa", "lan.example.org"),
                 ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0"
                  ".0.2.ip6.arpa", "host.example.org")]
        for name, want in cases:
            with self.subTest(name=name):
                self.assertEqual(self.one(name, "PTR")[::2], ("ok", want))

    def test_negative_answers(self):
        cases = [("nothere.example.org", "A", "nxdomain"),
                 ("host.example.org", "MX", "nodata"),
                 ("host.example.org", "TXT", "nodata"),
                 ("broken.example.org", "TXT", "tempfail"),
                 ("empty.example.org", "TXT", "tempfail")]
        for name, qtype, want in cases:
            with self.subTest(name=name, qtype=qtype):
                st, _ms, recs = self.one(name, qtype)
                self.assertEqual((st, recs), (want, ""))

    def test_many_at_once(self):
        pairs = [("host.example.org", "A"), ("nothere.example.org", "A"),
                 ("example.org", "MX"), ("broken.example.org", "A")] * 4
        want = ["ok", "nxdomain", "ok", "tempfail"] * 4
        got = lookup(self.dns.resolver, pairs)
        self.assertEqual([g[0] for g in got], want)


class CacheTest(unittest.TestCase):
    """Answers are kept for their TTL in front of libunbound: a repeated
    name (any case, trailing dot or not) is answered from the cache, the
    same records as the first time; a negative answer too; a failure never
    is; past the TTL the resolver is asked again."""

    @classmethod
    def setUpClass(cls):
        cls.dns = ld.LoopbackDNS(RECORDS, TIMEOUTS, ttl=2).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def test_repeats_come_from_the_cache(self):
        stats = {}
        got = lookup(self.dns.resolver, [
            ("multi.example.org", "TXT"), ("MULTI.Example.org.", "TXT"),
            ("host.example.org", "A"), ("host.example.org", "A"),
            ("host.example.org", "MX"), ("host.example.org", "MX"),
            ("broken.example.org", "TXT"), ("broken.example.org", "TXT")],
            sequential=True, stats=stats)
        self.assertEqual([g[0] for g in got],
                         ["ok", "ok", "ok", "ok", "nodata", "nodata",
                          "tempfail", "tempfail"])
        self.assertEqual(got[0][2], got[1][2])
        self.assertEqual(sorted(got[2][2].split()),
                         sorted(got[3][2].split()))
        # multi, host A, host MX once each from the cache; broken never.
        self.assertEqual(stats, {"lookups": 8, "cache_hits": 3})

    def test_expired_answer_is_asked_again(self):
        stats = {}
        got = lookup(self.dns.resolver, [
            ("two.example.org", "TXT"), ("2500", "WAIT"),
            ("two.example.org", "TXT")], sequential=True, stats=stats)
        self.assertEqual([g[0] for g in got], ["ok", "ok"])
        self.assertEqual(stats, {"lookups": 2, "cache_hits": 0})


class DeadlineTest(unittest.TestCase):
    def test_silent_server_times_out(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        try:
            resolver = "127.0.0.1@%d" % sock.getsockname()[1]
            t0 = time.monotonic()
            got = lookup(resolver, [("host.example.org", "A"),
                                    ("example.org", "TXT")])
            took = time.monotonic() - t0
        finally:
            sock.close()
        self.assertEqual([g[0] for g in got], ["tempfail", "tempfail"])
        for _st, ms, _r in got:
            self.assertGreaterEqual(ms, TIMEOUT_MS - 50)
            self.assertLess(ms, TIMEOUT_MS + 500)
        self.assertLess(took, 5.0)


if __name__ == "__main__":
    h.main()
