#!/usr/bin/env python3
"""Measurement helper for the milter benchmark, tests/bench/milter_bench.sh
(stdlib only).  It reuses bench_lib.py (the limbo benchmark's helper) for
/proc accounting, pinning checks and the load-record format, relay_lib.py
for Postfix's queue, tests/integration/loopback_dns.py for the DNS server's
configuration and tests/integration/milter/common.lua for driving OpenDKIM
with miltertest; only what is new is here:

  corpus --dir D --count N --seed S
        DKIM keys (opendkim-genkey for rsa, openssl for ed25519), the DNS
        records of the sender domains (SPF, DKIM keys, DMARC) as
        D/records.json, and N messages of about 10 KiB, signed by a real
        OpenDKIM (signing mode, one instance, driven by miltertest), as
        D/msg/NNNNN.eml plus D/manifest.json (envelope, expected verdicts)
  dns-conf --records F --dir D --port P --extra ADDR
        an unbound configuration (rendered by loopback_dns.LoopbackDNS)
        answering the records on 127.0.0.1:P and on ADDR:53, the second
        for the programs that only read /etc/resolv.conf (port 53 only)
  wait-dns PORT SECONDS      wait until unbound answers on 127.0.0.1:PORT
  wait-port PORT SECONDS     wait until something listens on 127.0.0.1:PORT
  load --roots NAME=PID,...  push the corpus through one Postfix set-up at
                             concurrency C, wait until Postfix's queue is
                             empty, append a bench_lib-style record with
                             the CPU of each root's process tree
  verdicts --maildir D --out F
        the Authentication-Results each set-up stamped on the delivered
        messages, reduced to spf / dkim / dmarc results per Message-ID

The client: a Python asyncio sender, one message per SMTP session: EHLO,
XCLIENT ADDR=192.0.2.10 (so that Postfix, the milters and the policy
server all see a routable client address, the one the SPF records are
about: every one of them treats a loopback client as trusted or local),
EHLO again, MAIL, RCPT, DATA with the corpus file (dot-stuffed), QUIT.
smtp-source cannot send given files, so it is not used here.

A message is done when Postfix's queue is empty again (the discard
transport has taken it), not at the client's 250: Postfix answers 250 once
the message is queued.  Server CPU is the sum over the set-up's roots
(Postfix master's tree, which holds smtpd, cleanup, qmgr, discard and the
spawned policyd-spf; and each milter daemon) of utime+stime+cutime+cstime.
"""

import argparse
import asyncio
import base64
import json
import os
import random
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INTEG = os.path.join(os.path.dirname(HERE), "integration")
sys.path.insert(0, INTEG)
import bench_lib as bl  # noqa: E402
import relay_lib as rl  # noqa: E402
import loopback_dns  # noqa: E402

CLIENT_IP = "192.0.2.10"
CLIENT_NET = "192.0.2.0/24"
OTHER_NET = "198.51.100.0/24"
CLIENT_HELO = "mail.bench-client.test"
AUTHSERV_ID = "bench.authserv.test"
LUA_COMMON = os.path.join(INTEG, "milter", "common.lua")
SIGN_LUA = os.path.join(HERE, "milter_sign.lua")

# Sender domains: SPF record, DKIM signer (key name or None), DMARC record,
# MAIL FROM domain if not the From domain, and what a correct verifier
# says (spf, dkim as "result:d", dmarc).  The key names are in KEYS.
DOMAINS = (
    ("alpha.example", "v=spf1 ip4:%s -all" % CLIENT_NET, "alpha",
     "v=DMARC1; p=reject", None, ("pass", "pass:alpha.example", "pass")),
    ("bravo.example", "v=spf1 include:_spf.esp.example -all", "bravo",
     "v=DMARC1; p=quarantine; adkim=s", None,
     ("pass", "pass:bravo.example", "pass")),
    ("charlie.example", "v=spf1 ip4:%s ~all" % OTHER_NET, "charlie",
     "v=DMARC1; p=none", None, ("softfail", "pass:charlie.example", "pass")),
    ("delta.example", "v=spf1 ip4:%s -all" % OTHER_NET, None,
     "v=DMARC1; p=reject", None, ("fail", "none", "fail")),
    ("echo.example", "v=spf1 a:out.echo.example -all", "esp",
     "v=DMARC1; p=quarantine", None, ("fail", "pass:esp.example", "fail")),
    ("foxtrot.example", "v=spf1 ip4:%s -all" % CLIENT_NET, "foxtrot",
     "v=DMARC1; p=reject", None, ("pass", "fail:foxtrot.example", "pass")),
    ("golf.example", "v=spf1 mx -all", "golf", None, None,
     ("pass", "pass:golf.example", "none")),
    ("hotel.example", "v=spf1 -all", "hotel", "v=DMARC1; p=reject",
     "mail.hotel.example", ("pass", "pass:hotel.example", "pass")),
)
# key name -> (signing domain, selector, algorithm)
KEYS = {"alpha": ("alpha.example", "rsa1", "rsa"),
        "bravo": ("bravo.example", "ed1", "ed25519"),
        "charlie": ("charlie.example", "rsa1", "rsa"),
        "esp": ("esp.example", "esp1", "rsa"),
        "foxtrot": ("foxtrot.example", "rsa1", "rsa"),
        "golf": ("golf.example", "ed1", "ed25519"),
        "hotel": ("hotel.example", "rsa1", "rsa")}
EXTRA_RECORDS = (
    ("_spf.esp.example", "TXT", "v=spf1 ip4:%s -all" % CLIENT_NET),
    ("out.echo.example", "A", "198.51.100.7"),
    ("golf.example", "MX", "10 mx.golf.example."),
    ("mx.golf.example", "A", CLIENT_IP),
    ("mail.hotel.example", "TXT", "v=spf1 ip4:%s -all" % CLIENT_NET),
)
WORDS = ("cutover tenant mailbox migration window retry sender domain "
         "record policy relay queue deliver archive calendar contact "
         "meeting invoice report quarter budget project status update "
         "review schedule network server message header signature").split()


def run(argv, timeout=120):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (argv[0], (r.stdout + r.stderr)
                                        .strip()[-600:]))
    return r.stdout


# --------------------------------------------------------------- corpus ---

def make_key(keydir, name):
    """-> (private key path, DNS TXT value) for one entry of KEYS."""
    domain, selector, alg = KEYS[name]
    if alg == "rsa":
        sub = os.path.join(keydir, name)
        os.makedirs(sub, exist_ok=True)
        run(["opendkim-genkey", "-b", "2048", "-D", sub, "-d", domain,
             "-s", selector])
        with open(os.path.join(sub, selector + ".txt")) as f:
            txt = "".join(re.findall(r'"([^"]*)"', f.read()))
        return os.path.join(sub, selector + ".private"), txt
    key = os.path.join(keydir, name + ".pem")
    run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key])
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                          "-outform", "DER"], capture_output=True,
                         timeout=30, check=True).stdout
    return key, "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]) \
        .decode()


def zone_records(txts):
    recs = []
    for dom, spf, _key, dmarc, mf_dom, _want in DOMAINS:
        recs.append((dom, "TXT", spf))
        if dmarc:
            recs.append(("_dmarc." + dom, "TXT", dmarc))
    for name, (dom, sel, _alg) in KEYS.items():
        recs.append(("%s._domainkey.%s" % (sel, dom), "TXT", txts[name]))
    recs.extend(EXTRA_RECORDS)
    return recs


def body_text(rng, size):
    """About size bytes of CRLF text lines; a few start with a dot, so the
    sender's dot-stuffing is exercised."""
    lines, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 11)))
        if rng.random() < 0.02:
            line = "." + line
        lines.append(line)
        n += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def make_messages(msgdir, count, seed, size):
    """Unsigned messages (CRLF) and their manifest entries."""
    rng = random.Random(seed)
    entries = []
    for i in range(count):
        dom, _spf, key, _dmarc, mf_dom, want = DOMAINS[i % len(DOMAINS)]
        user = rng.choice(("anna", "ben", "chris", "dana", "eve", "news"))
        mid = "<m%05d.%d@%s>" % (i, seed, dom)
        head = ["From: %s <%s@%s>" % (user.title(), user, dom),
                "To: <rcpt@bench.example>",
                "Subject: %s %s %d" % (rng.choice(WORDS), rng.choice(WORDS),
                                       i),
                "Date: Mon, 23 Nov 2026 %02d:%02d:%02d +0000"
                % (i // 3600 % 24, i // 60 % 60, i % 60),
                "Message-ID: " + mid, "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=us-ascii"]
        path = os.path.join(msgdir, "%05d.eml" % i)
        with open(path, "w", newline="") as f:
            f.write("\r\n".join(head) + "\r\n\r\n" + body_text(rng, size))
        entries.append({"file": os.path.basename(path), "message_id": mid,
                        "mailfrom": "%s@%s" % (user, mf_dom or dom),
                        "key": key, "tamper": dom == "foxtrot.example",
                        "want": {"spf": want[0], "dkim": want[1],
                                 "dmarc": want[2]}})
    return entries


def signer_conf(d, port, keypaths, alg):
    """OpenDKIM signing configuration for the keys of one algorithm (its
    KeyTable has no per-key algorithm: SignatureAlgorithm is global)."""
    names = [n for n, k in KEYS.items() if k[2] == alg]
    with open(os.path.join(d, "keytable-" + alg), "w") as f:
        for name in names:
            dom, sel, _alg = KEYS[name]
            f.write("%s %s:%s:%s\n" % (name, dom, sel, keypaths[name]))
    with open(os.path.join(d, "signingtable-" + alg), "w") as f:
        for dom, _spf, key, _dmarc, _mf, _want in DOMAINS:
            if key in names:
                f.write("*@%s %s\n" % (dom, key))
    conf = os.path.join(d, "opendkim-sign-%s.conf" % alg)
    with open(conf, "w") as f:
        f.write("Mode s\nSocket inet:%d@127.0.0.1\n"
                "KeyTable refile:%s/keytable-%s\n"
                "SigningTable refile:%s/signingtable-%s\n"
                "SignatureAlgorithm %s-sha256\n"
                "Canonicalization relaxed/simple\nRequireSafeKeys false\n"
                "Background no\nSyslog no\nUMask 022\n"
                "PidFile %s/opendkim-sign-%s.pid\n"
                % (port, d, alg, d, alg, alg, d, alg))
    return conf


def sign_all(d, entries, keypaths):
    """{file: DKIM-Signature value} for every message whose From domain
    has a key, one signer per algorithm."""
    sigs = {}
    for alg in sorted({k[2] for k in KEYS.values()}):
        todo = [e for e in entries if e["key"] and KEYS[e["key"]][2] == alg]
        sigs.update(sign_with(d, todo, keypaths, alg))
    return sigs


def sign_with(d, entries, keypaths, alg):
    """Run one OpenDKIM signer and have milter_sign.lua sign entries."""
    port = int(subprocess.check_output([sys.executable, bl.__file__,
                                        "freeport"], text=True))
    conf = signer_conf(d, port, keypaths, alg)
    err = open(os.path.join(d, "opendkim-sign-%s.log" % alg), "wb")
    proc = subprocess.Popen(["opendkim", "-f", "-x", conf],
                            stdout=err, stderr=err)
    try:
        deadline = time.monotonic() + 10
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the signing opendkim did not start")
            time.sleep(0.05)
        out = sign_parallel(d, entries, port, alg)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()
    sigs = {}
    for line in out.splitlines():
        if line.startswith("SIG "):
            path, _, sig = line[4:].partition(" ")
            sigs[os.path.basename(path)] = sig.replace("\\n", "\n")
    return sigs


def sign_parallel(d, entries, port, alg, ways=4):
    """miltertest runs, ways at a time over slices of entries (OpenDKIM is
    multi-threaded; one miltertest waits on each reply); -> their stdout."""
    procs = []
    for k in range(ways):
        listing = os.path.join(d, "to-sign-%s-%d.txt" % (alg, k))
        with open(listing, "w") as f:
            for e in entries[k::ways]:
                f.write("%s\t%s\n" % (os.path.join(d, "msg", e["file"]),
                                       e["mailfrom"]))
        procs.append(subprocess.Popen(
            ["miltertest", "-D", "SCRIPTDIR=" + os.path.dirname(LUA_COMMON),
             "-D", "SOCKET=inet:%d@127.0.0.1" % port, "-D",
             "LIST=" + listing, "-s", SIGN_LUA], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    out, failed = "", []
    for pr in procs:
        try:
            text, _ = pr.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            pr.kill()
            text, _ = pr.communicate()
        out += text
        if pr.returncode != 0:
            failed.append(text.strip()[-400:])
    if failed:
        raise RuntimeError("miltertest (signing): " + failed[0])
    return out


def port_open(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


def apply_signatures(d, entries, sigs):
    """Prepend each signature (CRLF folds); tamper with foxtrot's body
    after signing so its signature fails."""
    missing = [e["file"] for e in entries if e["key"] and e["file"]
               not in sigs]
    if missing:
        raise RuntimeError("OpenDKIM signed %d of %d messages, first "
                           "missing %s" % (len(sigs), len(sigs) +
                                           len(missing), missing[0]))
    for e in entries:
        path = os.path.join(d, "msg", e["file"])
        with open(path, "rb") as f:
            data = f.read()
        if e["key"]:
            sig = sigs[e["file"]].replace("\r\n", "\n").replace("\n", "\r\n")
            data = b"DKIM-Signature:" + sig.encode() + b"\r\n" + data
        if e["tamper"]:
            data += b"Appended by a list server after signing.\r\n"
        with open(path, "wb") as f:
            f.write(data)


def cmd_corpus(args):
    d = args.dir
    for sub in ("keys", "msg"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    keypaths, txts = {}, {}
    for name in KEYS:
        keypaths[name], txts[name] = make_key(os.path.join(d, "keys"), name)
    with open(os.path.join(d, "records.json"), "w") as f:
        json.dump(zone_records(txts), f, indent=1)
    entries = make_messages(os.path.join(d, "msg"), args.count, args.seed,
                            args.size)
    t0 = time.monotonic()
    sigs = sign_all(d, entries, keypaths)
    apply_signatures(d, entries, sigs)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(entries, f, indent=1)
    sizes = [os.path.getsize(os.path.join(d, "msg", e["file"]))
             for e in entries]
    algs = {}
    for e in entries:
        if e["key"]:
            alg = KEYS[e["key"]][2]
            algs[alg] = algs.get(alg, 0) + 1
    print("corpus: %d messages from %d sender domains, %d signed by OpenDKIM"
          " (%s) in %.1f s, %d to %d bytes (mean %d)"
          % (len(entries), len(DOMAINS), len(sigs),
             ", ".join("%s %d" % kv for kv in sorted(algs.items())),
             time.monotonic() - t0, min(sizes), max(sizes),
             sum(sizes) // len(sizes)))
    return 0


# ------------------------------------------------------------------ DNS ---

def cmd_dns_conf(args):
    with open(args.records) as f:
        recs = [tuple(r) for r in json.load(f)]
    dns = loopback_dns.LoopbackDNS(records=recs)
    dns.dir = args.dir
    text = dns.config_text(args.port, 0)
    text = text.replace("  port: %d\n" % args.port, "  port: %d\n"
                        "  interface: %s@53\n" % (args.port, args.extra), 1)
    with open(os.path.join(args.dir, "unbound.conf"), "w") as f:
        f.write(text)
    return 0


def cmd_wait_port(args):
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        if port_open(args.port):
            return 0
        time.sleep(0.05)
    print("nothing listens on 127.0.0.1:%d" % args.port, file=sys.stderr)
    return 1


def cmd_wait_dns(args):
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        try:
            loopback_dns.query(args.port, "ready.probe.invalid", "A",
                               timeout=0.2)
            return 0
        except (OSError, ValueError):
            time.sleep(0.05)
    print("unbound did not answer on 127.0.0.1:%d" % args.port,
          file=sys.stderr)
    return 1


# --------------------------------------------------------------- sender ---

def load_corpus(d):
    with open(os.path.join(d, "manifest.json")) as f:
        entries = json.load(f)
    out = []
    for e in entries:
        with open(os.path.join(d, "msg", e["file"]), "rb") as f:
            data = f.read()
        stuffed = re.sub(rb"(?m)^\.", b"..", data)
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        out.append((e["mailfrom"], stuffed + b".\r\n"))
    return out


async def reply(reader):
    """One SMTP reply (multi-line joined); -> (code, text)."""
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode("latin-1").rstrip("\r\n"))
        if line[3:4] != b"-":
            return lines[-1][:3], " | ".join(lines)


async def step(reader, writer, cmd, code):
    if cmd is not None:
        writer.write(cmd)
    got, text = await reply(reader)
    if got != code:
        raise ValueError("%s -> %s" % ((cmd or b"banner")[:60], text[:200]))


async def session(port, mailfrom, data, rcpt):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await step(reader, writer, None, "220")
        await step(reader, writer, b"EHLO %s\r\n" % CLIENT_HELO.encode(),
                   "250")
        await step(reader, writer, b"XCLIENT ADDR=%s NAME=%s\r\n"
                   % (CLIENT_IP.encode(), CLIENT_HELO.encode()), "220")
        await step(reader, writer, b"EHLO %s\r\n" % CLIENT_HELO.encode(),
                   "250")
        await step(reader, writer, b"MAIL FROM:<%s>\r\n" % mailfrom.encode(),
                   "250")
        await step(reader, writer, b"RCPT TO:<%s>\r\n" % rcpt.encode(),
                   "250")
        await step(reader, writer, b"DATA\r\n", "354")
        await step(reader, writer, data, "250")
        await step(reader, writer, b"QUIT\r\n", "221")
    finally:
        writer.close()


async def send_all(port, corpus, rcpt, conc, timeout):
    """Send every corpus message once; -> (ok, errors list)."""
    todo = list(range(len(corpus)))
    todo.reverse()
    errors = []

    async def worker():
        ok = 0
        while todo:
            mailfrom, data = corpus[todo.pop()]
            try:
                await session(port, mailfrom, data, rcpt)
                ok += 1
            except (OSError, ValueError, ConnectionError) as e:
                errors.append(str(e)[:240])
        return ok

    tasks = [worker() for _ in range(conc)]
    done = await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    return sum(done), errors


def self_cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ----------------------------------------------------------------- load ---

def parse_roots(spec):
    """"name=pid,name=pid" -> [(name, pid)]: the processes whose trees
    make up one set-up (Postfix master, each milter daemon)."""
    out = []
    for item in spec.split(","):
        name, _, pid = item.partition("=")
        out.append((name, int(pid)))
    return out


def roots_cpu(roots):
    """{name: CPU seconds of that root's tree}."""
    return {name: bl.tree_cpu_seconds(pid) for name, pid in roots}


def roots_affinity(roots, cpu):
    bad = []
    for _name, pid in roots:
        bad += bl.tree_affinity_problems(pid, cpu)
    return bad


def count_sent(lines, rcpt):
    """Deliveries to rcpt logged as sent; deferrals, bounces, milter and
    policy errors and warnings are odd."""
    got = {"status_sent": 0}
    odd = []
    for line in lines:
        if " status=sent " in line and ("<%s>" % rcpt) in line:
            got["status_sent"] += 1
        elif any(w in line for w in (" warning: ", " fatal: ", " panic: ",
                                     " error: ", " status=deferred ",
                                     " status=bounced ", " reject: ",
                                     " milter-reject: ")):
            odd.append(line[:240])
    return got, odd


def wait_log(tail, rcpt, want, deadline):
    while True:
        got, odd = count_sent(tail.new_lines(), rcpt)
        if got["status_sent"] >= want or time.monotonic() >= deadline:
            return got, odd
        time.sleep(0.1)


def run_load(args, corpus):
    """Send, then wait for the queue to drain; -> the run facts."""
    busy0 = bl.busy_seconds()
    dns0 = rl.proc_seconds(args.dns_pid)
    cli0 = self_cpu()
    t0 = time.monotonic()
    try:
        ok, errors = asyncio.run(send_all(args.port, corpus, args.rcpt,
                                          args.conc, args.timeout))
        timed_out = False
    except asyncio.TimeoutError:
        ok, errors, timed_out = 0, ["client timed out"], True
    accept_wall = time.monotonic() - t0
    client_cpu = self_cpu() - cli0
    queued = rl.wait_queue_empty(args.queue_dir, t0 + args.timeout)
    wall = time.monotonic() - t0
    busy1 = bl.busy_seconds()
    return {"cmd": ["milter_lib.py load", "c=%d" % args.conc],
            "rc": 0 if ok == len(corpus) else 1, "timed_out": timed_out,
            "wall": wall, "accept_wall": accept_wall,
            "client_cpu": client_cpu, "client": (ok, len(errors), errors[:5]),
            "queued": queued, "busy0": busy0, "busy1": busy1,
            "dns_cpu": rl.proc_seconds(args.dns_pid) - dns0}


def load_problems(args, run_, got, odd, affinity):
    problems = []
    ok, nerr, errs = run_["client"]
    if run_["timed_out"]:
        problems.append("client killed after %ss" % args.timeout)
    if ok != args.sessions:
        problems.append("%d of %d messages accepted; errors: %s"
                        % (ok, args.sessions, errs))
    if run_["queued"]:
        problems.append("%d messages still in Postfix's queue"
                        % run_["queued"])
    if got["status_sent"] != args.sessions:
        problems.append("maillog: %d status=sent, want %d"
                        % (got["status_sent"], args.sessions))
    if odd:
        problems.append("%d unexpected maillog lines, first: %s"
                        % (len(odd), odd[:3]))
    if affinity:
        problems.append("server not pinned to CPU %d: %s"
                        % (args.server_cpu, affinity[:5]))
    return problems


def cmd_load(args):
    corpus = load_corpus(args.corpus)
    args.sessions = len(corpus)
    tail = bl.LogTail(args.log)
    roots = parse_roots(args.roots)
    affinity = []
    if args.server_cpu >= 0:
        affinity = roots_affinity(roots, args.server_cpu)
    try:
        cpu0 = roots_cpu(roots)
    except RuntimeError as e:
        return bl.broken_load(args, str(e))
    run_ = run_load(args, corpus)
    got, odd = wait_log(tail, args.rcpt, args.sessions,
                        time.monotonic() + 15)
    time.sleep(0.3)
    try:
        cpu1 = roots_cpu(roots)
    except RuntimeError as e:
        return bl.broken_load(args, "%s after the run" % e)
    if args.server_cpu >= 0:
        affinity += roots_affinity(roots, args.server_cpu)
    by_root = {k: round(cpu1[k] - cpu0[k], 3) for k in cpu0}
    cpu = sum(cpu1.values()) - sum(cpu0.values())
    problems = load_problems(args, run_, got, odd, affinity)
    other = bl.other_cpu(args, run_["busy0"], run_["busy1"], cpu,
                         run_["client_cpu"])
    rec = bl.load_record(args, run_, cpu, other, got, problems)
    rec.update({"mode": "milter", "rcpt": args.rcpt,
                "accept_wall_s": round(run_["accept_wall"], 4),
                "dns_cpu_s": round(run_["dns_cpu"], 3),
                "cpu_by_root_s": by_root})
    rec.pop("client_451", None)
    bl.append_record(args.results, rec)
    bl.print_load(args, rec)
    return 0 if rec["ok"] else 1


# ------------------------------------------------------------- verdicts ---

AR_RE = re.compile(r"^Authentication-Results:(.*(?:\n[ \t].*)*)",
                   re.M | re.I)
DIS_RE = re.compile(r"dmarc=[a-z]+\s*\(p=[a-z]+\s+dis=([a-z]+)\)", re.I)
RES_RE = re.compile(r"^\s*([a-z0-9-]+)\s*=\s*([a-z]+)(.*)$", re.S | re.I)


def header_of(text):
    text = text.replace("\r\n", "\n")
    return text.split("\n\n", 1)[0]


def parse_ar(head):
    """{spf, dkim, dmarc, dmarc_dis} from every A-R field with our
    authserv-id: spf of smtp.mailfrom (else the first spf), dkim as sorted
    "result:header.d" items, dmarc result, and the disposition both
    stamp in a comment ("(p=reject dis=none)")."""
    spf_mf, spf_any, dkim, dmarc, disposition = None, None, [], None, None
    for field in AR_RE.findall(head):
        flat = re.sub(r"\([^()]*\)", " ", re.sub(r"\s+", " ", field))
        parts = [p.strip() for p in flat.split(";")]
        if not parts or parts[0].split()[0:1] != [AUTHSERV_ID]:
            continue
        for part in parts[1:]:
            m = RES_RE.match(part)
            if not m:
                continue
            method, result, props = (m.group(1).lower(),
                                     m.group(2).lower(), m.group(3))
            if method == "spf":
                spf_any = spf_any or result
                if "smtp.mailfrom" in props:
                    spf_mf = spf_mf or result
            elif method == "dkim":
                d = re.search(r"header\.d=([^\s;]+)", props)
                dkim.append("%s:%s" % (result, d.group(1).lower()
                                       if d else "-"))
            elif method == "dmarc":
                dmarc = dmarc or result
        dis = DIS_RE.search(field)
        if dis:
            disposition = disposition or dis.group(1).lower()
    dkim = sorted(x for x in dkim if not x.startswith("none"))
    return {"spf": spf_mf or spf_any or "absent",
            "dkim": ",".join(dkim) or "none", "dmarc": dmarc or "absent",
            "dmarc_dis": disposition or "absent"}


def cmd_verdicts(args):
    out = {}
    n = 0
    new = os.path.join(args.maildir, "new")
    for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
        with open(os.path.join(new, name), errors="replace") as f:
            head = header_of(f.read())
        n += 1
        m = re.search(r"^Message-ID:\s*(<[^>]*>)", head, re.M | re.I)
        key = m.group(1) if m else "no-id-%d" % n
        v = parse_ar(head)
        v["ar_fields"] = len(AR_RE.findall(head))
        out[key] = v
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print("  verdicts %s: %d delivered messages read" % (args.name, n),
          flush=True)
    return 0 if n == args.want else 1


# ----------------------------------------------------------------- main ---

def main():
    bl.signal.signal(bl.signal.SIGTERM, bl.on_term)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("--dir", required=True)
    c.add_argument("--count", type=int, default=500)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--size", type=int, default=10240)
    c.set_defaults(fn=cmd_corpus)
    d = sub.add_parser("dns-conf")
    for name, typ in (("--records", str), ("--dir", str), ("--port", int),
                      ("--extra", str)):
        d.add_argument(name, type=typ, required=True)
    d.set_defaults(fn=cmd_dns_conf)
    w = sub.add_parser("wait-dns")
    w.add_argument("port", type=int)
    w.add_argument("seconds", type=float)
    w.set_defaults(fn=cmd_wait_dns)
    wp = sub.add_parser("wait-port")
    wp.add_argument("port", type=int)
    wp.add_argument("seconds", type=float)
    wp.set_defaults(fn=cmd_wait_port)
    lo = sub.add_parser("load")
    for name, typ in (("--name", str), ("--roots", str), ("--port", int),
                      ("--conc", int), ("--round", int), ("--slot", int),
                      ("--server-cpu", int), ("--client-cpu", int),
                      ("--dns-pid", int), ("--timeout", float),
                      ("--results", str), ("--corpus", str), ("--log", str),
                      ("--queue-dir", str), ("--rcpt", str)):
        lo.add_argument(name, type=typ, required=True)
    lo.add_argument("--warmup", action="store_true")
    lo.set_defaults(fn=cmd_load)
    v = sub.add_parser("verdicts")
    for name, typ in (("--maildir", str), ("--out", str), ("--name", str),
                      ("--want", int)):
        v.add_argument(name, type=typ, required=True)
    v.set_defaults(fn=cmd_verdicts)
    args = p.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
