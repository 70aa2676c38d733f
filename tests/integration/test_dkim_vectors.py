"""test_dkim_vectors.py - the DKIM verifier against published vectors.

Data: $CUTOVER_SOURCE_DIR/../shared/testdata/dkim/, read in place (see
../shared/testdata/README.md).  Missing: the test fails when CI=true, else
it says so and exits 0 without checking anything.

Driver: $CUTOVER_BUILD_DIR/tools/dkim_check (tests/tools/dkim_check.c), keys
served by a real unbound on loopback (loopback_dns.py).

1. dkimpy: the RFC 8463 appendix A message, signed with ed25519-sha256
   (brisbane) and rsa-sha256 (test): both signatures must pass.  The
   ed25519 public key is derived with openssl from the RFC 8032 7.1 secret
   key (rfc8032_7_1.key), as RFC 8463 A.2 did; the rsa key is test.txt.
   Also Exim's ed25519 message (ed25519test2.msg, key eximtest.dns): pass.
   Not used: message.mbox and test2.message (their keys are only in
   dkimpy's Python test code, not in the data), test*.message (unsigned
   input for signing tests).
2. Mail::DKIM corpus: FAKE_DNS.dat served as TXT records ("NXDOMAIN": no
   record; "~~Query timed out~~" / "~~SERVFAIL~~": SERVFAIL); each file's
   summary compared with expected.txt, pass -> pass, fail -> fail,
   invalid -> permerror, except for these groups, where an RFC 6376 +
   RFC 8301 verifier is expected to differ from Mail::DKIM (which also
   verifies DomainKeys and old drafts) -- each file is listed in DEVIATIONS:
   - DomainKeys (RFC 4870, historic) messages carry DomainKey-Signature,
     not DKIM-Signature: none.
   - pre-RFC drafts (ietf-00/01: no v= tag; v=0.5): permerror, RFC 6376
     3.5 makes v=1 required.
   - rsa-sha1 signatures: policy, RFC 8301 3.1 (MUST NOT be considered
     valid); with the corpus's 512-bit test keys also policy, RFC 8301 3.2
     (keys under 1024 bits).  Files whose only flaw for Mail::DKIM is the
     obsolete g= tag (removed by RFC 6376) end the same way.
   - timeouts and SERVFAIL on the key: temperror (RFC 6376 6.1.2, RFC 8601
     2.7.1), which Mail::DKIM calls "invalid".
   - a message without any From field: permerror (RFC 6376 5.4: From MUST
     be signed, so no signature can be valid), Mail::DKIM says "fail".
   - multiple_2.txt: its only signature Mail::DKIM passes is rsa-sha1
     (policy); another one fails, and the summary (dkimv_summary) ranks
     fail above policy.
   Any other difference fails the test.  Printed: "dkim vectors: N/M as
   expected" and how many agree with Mail::DKIM's own verdict.
3. The whole corpus again with the body fed one byte at a time: every
   verdict identical (chunking never changes a result).
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cutover_harness as h  # noqa: E402
import loopback_dns as ld  # noqa: E402

MAP = {"pass": "pass", "fail": "fail", "invalid": "permerror"}
DK = "DomainKeys message (RFC 4870), no DKIM-Signature"
DRAFT = "pre-RFC 6376 draft signature (no v=1): permerror, RFC 6376 3.5"
SHA1 = "rsa-sha1: policy, RFC 8301 3.1"
SMALL = "512-bit key: policy, RFC 8301 3.2"
GTAG = "only flaw is g= (gone since RFC 6376), 512-bit key: policy"
TEMP = "key lookup SERVFAIL/timeout: temperror, RFC 6376 6.1.2"
NOFROM = "no From field: permerror, RFC 6376 5.4"
DEVIATIONS = {
    "good_dk_1.txt": ("none", DK), "good_dk_2.txt": ("none", DK),
    "good_dk_3.txt": ("none", DK), "good_dk_4.txt": ("none", DK),
    "good_dk_5.txt": ("none", DK), "good_dk_6.txt": ("none", DK),
    "good_dk_7.txt": ("none", DK), "good_dk_gmail.txt": ("none", DK),
    "good_dk_yahoo.txt": ("none", DK), "dk_headers_1.txt": ("none", DK),
    "dk_headers_2.txt": ("none", DK), "dk_multiple_1.txt": ("none", DK),
    "bad_dk_1.txt": ("none", DK), "bad_dk_2.txt": ("none", DK),
    "bad_dk_3.txt": ("none", DK), "bad_dk_4.txt": ("none", DK),
    "bad_dk_5.txt": ("none", DK),
    "good_ietf00_1.txt": ("permerror", DRAFT),
    "good_ietf00_2.txt": ("permerror", DRAFT),
    "good_ietf00_3.txt": ("permerror", DRAFT),
    "good_ietf00_4.txt": ("permerror", DRAFT),
    "good_ietf00_5.txt": ("permerror", DRAFT),
    "good_ietf01_1.txt": ("permerror", DRAFT),
    "good_ietf01_2.txt": ("permerror", DRAFT),
    "mine_ietf01_1.txt": ("permerror", DRAFT),
    "mine_ietf01_2.txt": ("permerror", DRAFT),
    "mine_ietf01_3.txt": ("permerror", DRAFT),
    "mine_ietf01_4.txt": ("permerror", DRAFT),
    "mine_ietf05_1.txt": ("permerror", DRAFT),
    "multiple_1.txt": ("permerror", DRAFT),
    "multiple_2.txt": ("fail", "four signatures: the one Mail::DKIM "
                       "passes is rsa-sha1 (policy), one fails, two are "
                       "malformed; the summary ranks fail above policy"),
    "no_body_1.txt": ("permerror", DRAFT),
    "no_body_2.txt": ("permerror", DRAFT),
    "no_body_3.txt": ("permerror", DRAFT),
    "bad_1.txt": ("permerror", DRAFT),
    "bad_ietf01_1.txt": ("permerror", DRAFT),
    "bad_ietf01_2.txt": ("permerror", DRAFT),
    "bad_ietf01_3.txt": ("permerror", DRAFT),
    "good_83176.txt": ("policy", SHA1),
    "good_1878523.txt": ("policy", SMALL),
    "good_qp_1.txt": ("policy", SMALL), "good_qp_2.txt": ("policy", SMALL),
    "good_qp_3.txt": ("policy", SMALL),
    "good_rfc4871_3.txt": ("policy", SMALL),
    "good_rfc4871_4.txt": ("policy", SMALL),
    "goodkey_1.txt": ("policy", SMALL), "goodkey_2.txt": ("policy", SMALL),
    "goodkey_3.txt": ("policy", SMALL), "goodkey_4.txt": ("policy", SMALL),
    "badkey_8.txt": ("policy", GTAG), "badkey_9.txt": ("policy", GTAG),
    "badkey_12.txt": ("policy", GTAG), "badkey_13.txt": ("policy", GTAG),
    "badkey_14.txt": ("temperror", TEMP), "badkey_15.txt": ("temperror", TEMP),
    "bad_1878954.txt": ("permerror", NOFROM),
}


def data_dir():
    src = h.env_path("CUTOVER_SOURCE_DIR")
    return os.path.normpath(os.path.join(src, "..", "shared", "testdata",
                                         "dkim"))


def dkim_check():
    path = os.path.join(h.env_path("CUTOVER_BUILD_DIR"), "tools",
                        "dkim_check")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not built" % path)
    return path


def run_check(resolver, files, chunk=4096):
    r = subprocess.run([dkim_check(), "-c", str(chunk), resolver] + files,
                       capture_output=True, text=True, timeout=240,
                       env=h.sanitizer_env())
    if r.returncode != 0 or h.sanitizer_report(r.stderr):
        raise AssertionError("dkim_check failed (%d):\n%s"
                             % (r.returncode, r.stderr))
    return {j["file"]: j for j in map(json.loads, r.stdout.splitlines())}


def fake_dns(path):
    """FAKE_DNS.dat -> (records, timeouts) for LoopbackDNS."""
    records, timeouts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, rec = line.partition(" ")
            rec = rec.strip()
            if rec == "NXDOMAIN":
                continue
            if rec.startswith("~~"):
                timeouts.append((name, None))
            elif rec == '""':
                records.append((name, "TXT", ""))
            else:
                records.append((name, "TXT", rec))
    return records, timeouts


def ed25519_public(seed_b64):
    """Raw ed25519 public key (base64) for a 32-byte secret key, by openssl."""
    der = bytes.fromhex("302e020100300506032b657004220420") + \
        base64.b64decode(seed_b64)
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "k.der")
        with open(key, "wb") as f:
            f.write(der)
        r = subprocess.run([h.need_tool("openssl"), "pkey", "-inform", "DER",
                            "-in", key, "-pubout", "-outform", "DER"],
                           capture_output=True, timeout=30)
    if r.returncode != 0 or len(r.stdout) < 32:
        raise AssertionError("openssl pkey: %r" % r.stderr)
    return base64.b64encode(r.stdout[-32:]).decode()


class DataCheck(unittest.TestCase):
    def test_data_present(self):
        if not os.path.isdir(data_dir()):
            raise AssertionError("DKIM vectors missing: %s" % data_dir())


class Dkimpy(unittest.TestCase):
    def test_rfc8463_and_exim(self):
        d = os.path.join(data_dir(), "dkimpy")
        with open(os.path.join(d, "rfc8032_7_1.key")) as f:
            pub = ed25519_public(f.read().strip())
        self.assertEqual(pub, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                         "RFC 8463 A.2 key")
        with open(os.path.join(d, "test.txt")) as f:
            rsa = f.read().strip()
        with open(os.path.join(d, "eximtest.dns")) as f:
            exim = f.read().strip()
        recs = [("brisbane._domainkey.football.example.com", "TXT",
                 "v=DKIM1; k=ed25519; p=" + pub),
                ("test._domainkey.football.example.com", "TXT", rsa),
                ("sed._domainkey.test.ex", "TXT", exim)]
        files = [os.path.join(d, n) for n in ("rfc6376.signed.msg",
                                              "ed25519test2.msg")]
        with ld.LoopbackDNS(recs) as dns:
            got = run_check(dns.resolver, files)
        sigs = [(s["result"], s["alg"], s["s"], s["aligned_ok"])
                for s in got["rfc6376.signed.msg"]["sigs"]]
        self.assertEqual(sigs, [("pass", "ed25519-sha256", "brisbane", True),
                                ("pass", "rsa-sha256", "test", True)])
        sigs = [(s["result"], s["alg"], s["d"])
                for s in got["ed25519test2.msg"]["sigs"]]
        self.assertEqual(sigs, [("pass", "ed25519-sha256", "test.ex")])


class MailDkim(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = os.path.join(data_dir(), "mail-dkim")
        cls.files = sorted(os.path.join(d, "corpus", n)
                           for n in os.listdir(os.path.join(d, "corpus")))
        cls.expected = {}
        with open(os.path.join(d, "expected.txt")) as f:
            for line in f:
                if line.strip():
                    name, verdict = line.split()
                    cls.expected[name] = verdict
        records, timeouts = fake_dns(os.path.join(d, "FAKE_DNS.dat"))
        cls.dns = ld.LoopbackDNS(records, timeouts).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def test_corpus(self):
        got = run_check(self.dns.resolver, self.files)
        ok, agree, bad = 0, 0, []
        for path in self.files:
            name = os.path.basename(path)
            theirs = self.expected.get(name)
            self.assertIsNotNone(theirs, "%s not in expected.txt" % name)
            want, why = DEVIATIONS.get(name, (MAP[theirs], "as Mail::DKIM"))
            have = got[name]["summary"]
            if have == want:
                ok += 1
            else:
                bad.append("%s: got %s, want %s (%s) %s" % (
                    name, have, want, why,
                    [s["reason"] for s in got[name]["sigs"]]))
            agree += have == MAP[theirs]
        print("dkim vectors: %d/%d as expected (%d the same as Mail::DKIM, "
              "%d documented deviations)" % (ok, len(self.files), agree,
                                             len(DEVIATIONS)), flush=True)
        self.assertEqual(bad, [])
        self.assertEqual(len(self.files), 79, "corpus size changed")

    def test_chunking(self):
        whole = run_check(self.dns.resolver, self.files)
        bytewise = run_check(self.dns.resolver, self.files, chunk=1)
        self.assertEqual(whole, bytewise)


if __name__ == "__main__":
    if not os.path.isdir(data_dir()):
        if os.environ.get("CI") == "true":
            h.main()
        print("dkim vectors: SKIPPED, %s is missing (fails when CI=true)"
              % data_dir(), flush=True)
        sys.exit(0)
    h.main()
