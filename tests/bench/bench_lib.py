#!/usr/bin/env python3
"""Measurement helper for tests/bench/bench.sh (stdlib only).

bench.sh owns the servers (start, stop, trap); this helper only measures and
reports, one subcommand per job:

  freeport                      print a free TCP port on 127.0.0.1
  wait-banner PORT SECONDS      wait until a connect to PORT gets a 220 banner
  tree PID                      print PID and all its live descendants
  load ...                      drive one server with smtp-source once, append
                                a JSON record to --results
  idle ...                      hold N idle connections, measure the server's
                                Pss growth per connection, append a record
  report ...                    medians, ratios and targets; print them and
                                write the JSON result file

How the numbers are taken, and why:
- Server CPU is read from /proc/PID/stat for the server's whole process tree:
  for every live process utime+stime+cutime+cstime.  cutime/cstime hold only
  children that were already reaped, so nothing is counted twice, and a
  Postfix smtpd that exits during the run (max_use) is still counted, in
  master's cutime.  The same formula serves a single-process server.
- A run only counts when the client saw every session end in the expected
  451 at RCPT, smtp-source exited 0 with no other message on stderr, and
  (for cutoverd and Postfix) the server's own log shows every session.  A
  broken run is reported as broken, never as fast.
- Memory is the sum of Pss (smaps_rollup) over the server's process tree
  with N connections held open, minus the same sum before, divided by the
  number of connections that got their banner and were still open.
"""

import argparse
import errno
import json
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
IP_BIND_ADDRESS_NO_PORT = 24
SENDER = "sender@example.org"
RCPT = "rcpt@example.com"
CLIENT_NAME = "bench-client.test"
EXPECT_CLIENT = "recipient rejected: 451 "
IDLE_TARGET_HELD = 10000


# ---------------------------------------------------------------- /proc ---

def proc_stat(pid):
    """Return (ppid, ticks) of one process or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    ppid = int(fields[1])
    ticks = sum(int(x) for x in fields[11:15])
    return ppid, ticks


def proc_tree(root):
    """PIDs of root and all its live descendants."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None:
            children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(root):
    """CPU seconds of the tree (see the module comment); root must be alive."""
    root_st = proc_stat(root)
    if root_st is None:
        raise RuntimeError(f"server process {root} is gone")
    total = 0
    for pid in proc_tree(root):
        st = proc_stat(pid)
        if st is not None:
            total += st[1]
    return total / CLK_TCK


def machine_busy_seconds():
    """Busy CPU seconds of the whole machine (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLK_TCK


def proc_pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def tree_pss_kib(root):
    pids = proc_tree(root)
    return sum(proc_pss_kib(p) for p in pids), len(pids)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft
    return hard


# --------------------------------------------------------- small helpers ---

def cmd_freeport(_args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    return 0


def cmd_wait_banner(args):
    deadline = time.monotonic() + args.seconds
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", args.port), 1) as s:
                s.settimeout(2)
                line = s.recv(512)
                if line.startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return 0
                last = f"unexpected banner {line[:80]!r}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    print(f"no 220 banner on 127.0.0.1:{args.port} after {args.seconds}s: "
          f"{last}", file=sys.stderr)
    return 1


def cmd_tree(args):
    print(" ".join(str(p) for p in proc_tree(args.pid)))
    return 0


def append_record(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


# ------------------------------------------------- server-side counting ---

class LogTail:
    """New bytes of a log file since the mark (the file only grows)."""

    def __init__(self, path):
        self.path = path
        self.mark = os.path.getsize(path) if os.path.exists(path) else 0

    def new_lines(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path, "rb") as f:
            f.seek(self.mark)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        return data[:cut].decode("utf-8", "replace").splitlines()


def count_cutoverd(lines):
    got = {"connect": 0, "rcpt_defer_451": 0, "disconnect_quit": 0}
    odd = []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            odd.append("not JSON: " + line[:160])
            continue
        kind = ev.get("ev")
        if kind == "connect":
            got["connect"] += 1
        elif kind == "rcpt" and ev.get("decision") == "defer" \
                and str(ev.get("reply", "")).startswith("451 "):
            got["rcpt_defer_451"] += 1
        elif kind == "disconnect" and ev.get("reason") == "quit":
            got["disconnect_quit"] += 1
        else:
            odd.append(line[:240])
    return got, odd


def count_postfix(lines):
    got = {"reject_451": 0}
    odd = []
    for line in lines:
        if "NOQUEUE: reject: RCPT from" in line and ": 451 4.3.2 " in line:
            got["reject_451"] += 1
        elif any(w in line for w in (" warning: ", " fatal: ", " panic: ",
                                     " error: ")):
            odd.append(line[:240])
    return got, odd


def server_counts(kind, tail, want, settle):
    """Count the server's own log lines for the run, waiting for a lagging
    logger (Postfix logs through postlogd) up to settle seconds."""
    if kind == "none":
        return {}, []
    counter = count_cutoverd if kind == "cutoverd" else count_postfix
    deadline = time.monotonic() + settle
    while True:
        got, odd = counter(tail.new_lines())
        if min(got.values()) >= want or time.monotonic() >= deadline:
            return got, odd
        time.sleep(0.2)


# ------------------------------------------------------------------ load ---

def run_smtp_source(args, errpath):
    cmd = [args.smtp_source, "-A", "-s", str(args.conc), "-m",
           str(args.sessions), "-f", SENDER, "-t", RCPT, "-M", CLIENT_NAME,
           f"127.0.0.1:{args.port}"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(errpath, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            rc = proc.wait(timeout=args.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            timed_out = True
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return cmd, rc, timed_out, wall, client_cpu


def client_counts(errpath):
    """(sessions that ended in the expected 451, number of other stderr
    lines, the first few of them)."""
    ok, n_other, other = 0, 0, []
    with open(errpath, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if EXPECT_CLIENT in line and "warning:" in line:
                ok += 1
                continue
            n_other += 1
            if len(other) < 5:
                other.append(line[:240])
    return ok, n_other, other


def broken_load(args, why):
    rec = {"kind": "load", "server": args.name, "conc": args.conc,
           "round": args.round, "sessions": args.sessions,
           "warmup": args.warmup, "ok": False, "problems": [why]}
    append_record(args.results, rec)
    print(f"  c={args.conc:<4} {args.name:9} BROKEN: {why}", flush=True)
    return 1


def cmd_load(args):
    tail = LogTail(args.log) if args.check != "none" else None
    try:
        cpu0 = tree_cpu_seconds(args.pid)
    except RuntimeError as e:
        return broken_load(args, str(e))
    errpath = os.path.join(args.workdir,
                           f"src-{args.name}-c{args.conc}-r{args.round}.err")
    busy0 = machine_busy_seconds()
    cmd, rc, timed_out, wall, client_cpu = run_smtp_source(args, errpath)
    busy1 = machine_busy_seconds()
    got, odd = server_counts(args.check, tail, args.sessions, 10)
    time.sleep(0.3)
    try:
        cpu1 = tree_cpu_seconds(args.pid)
    except RuntimeError as e:
        return broken_load(args, f"{e} after the run")
    ok_client, n_other, other = client_counts(errpath)
    problems = []
    if timed_out:
        problems.append(f"smtp-source killed after {args.timeout}s")
    if rc != 0:
        problems.append(f"smtp-source exit status {rc}")
    if ok_client != args.sessions:
        problems.append(f"client saw {ok_client} RCPT 451 of "
                        f"{args.sessions} sessions")
    if n_other:
        problems.append(f"{n_other} other smtp-source messages: {other}")
    for key, val in got.items():
        if val != args.sessions:
            problems.append(f"server log: {key} = {val}, want "
                            f"{args.sessions}")
    if odd:
        problems.append(f"{len(odd)} unexpected server log lines, first: "
                        f"{odd[:3]}")
    cpu = cpu1 - cpu0
    # What else ran on the machine meanwhile (other users, builds): a noisy
    # round shows here.  The server's CPU after the client ended is small.
    background = max(0.0, busy1 - busy0 - cpu - client_cpu)
    rec = {"kind": "load", "server": args.name, "conc": args.conc,
           "round": args.round, "sessions": args.sessions,
           "warmup": args.warmup, "wall_s": round(wall, 4),
           "sessions_per_s": round(args.sessions / wall, 1),
           "cpu_s": round(cpu, 3),
           "cpu_s_per_1000": round(cpu * 1000 / args.sessions, 4),
           "client_cpu_s": round(client_cpu, 3),
           "background_cpu_s": round(background, 2),
           "client_451": ok_client, "server_counts": got,
           "ok": not problems, "problems": problems, "command": cmd}
    append_record(args.results, rec)
    tag = "warm-up" if args.warmup else f"round {args.round}"
    status = "ok" if rec["ok"] else "BROKEN: " + "; ".join(problems)
    print(f"  c={args.conc:<3} {tag:7} {args.name:9} {args.sessions:5d} in "
          f"{wall:6.2f} s {rec['sessions_per_s']:7.0f}/s | cpu s: server "
          f"{cpu:5.2f} ({rec['cpu_s_per_1000']:.4f}/1000) client "
          f"{client_cpu:5.2f} other {background:5.2f} | {status}", flush=True)
    return 0 if rec["ok"] else 1


# ------------------------------------------------------------------ idle ---

def open_one(sel, i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind((f"127.0.1.{1 + i % 254}", 0))
    rc = s.connect_ex(("127.0.0.1", open_one.port))
    if rc not in (0, errno.EINPROGRESS):
        s.close()
        return False
    sel.register(s, selectors.EVENT_READ, bytearray())
    return True


def read_banner(sel, key):
    """1: banner seen, 0: keep waiting, -1: failed (closed, refused, 4xx)."""
    s, buf = key.fileobj, key.data
    try:
        data = s.recv(512)
    except BlockingIOError:
        return 0
    except OSError:
        return -1
    if not data:
        return -1
    buf.extend(data)
    if b"\n" not in buf:
        return 0
    return 1 if buf.startswith(b"220") else -1


def hold_connections(port, count, seconds, inflight):
    """Open count connections; return (acked sockets, failures)."""
    open_one.port = port
    sel = selectors.DefaultSelector()
    acked, failed, started = [], 0, 0
    deadline = time.monotonic() + seconds
    while len(acked) + failed < count and time.monotonic() < deadline:
        while started < count and len(sel.get_map()) < inflight:
            if not open_one(sel, started):
                failed += 1
            started += 1
        for key, _ in sel.select(0.2):
            r = read_banner(sel, key)
            if r == 0:
                continue
            sel.unregister(key.fileobj)
            if r == 1:
                acked.append(key.fileobj)
            else:
                key.fileobj.close()
                failed += 1
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        key.fileobj.close()
        failed += 1
    sel.close()
    return acked, failed + (count - started)


def still_open(socks):
    """Sockets with nothing to read (no EOF, no 421) are still idle."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    readable = {k.fileobj for k, _ in sel.select(0)}
    sel.close()
    return [s for s in socks if s not in readable]


def cmd_idle(args):
    limit = raise_nofile()
    if limit < args.count + 100:
        print(f"RLIMIT_NOFILE {limit} too small for {args.count} "
              f"connections", file=sys.stderr)
        return 1
    base, nproc0 = tree_pss_kib(args.pid)
    t0 = time.monotonic()
    acked, failed = hold_connections(args.port, args.count, args.timeout,
                                     args.inflight)
    open_s = time.monotonic() - t0
    time.sleep(args.settle)
    held, nproc1 = tree_pss_kib(args.pid)
    alive = still_open(acked)
    per = (held - base) / len(alive) if alive else None
    for s in acked:
        s.close()
    problems = []
    if len(alive) != args.count:
        problems.append(f"{len(alive)} of {args.count} connections open and "
                        f"acknowledged ({failed} failed, "
                        f"{len(acked) - len(alive)} closed by the server)")
    rec = {"kind": "idle", "server": args.name, "requested": args.count,
           "held": len(alive), "failed": failed,
           "open_s": round(open_s, 2), "pss_base_kib": base,
           "pss_held_kib": held, "processes_before": nproc0,
           "processes_held": nproc1,
           "kib_per_conn": None if per is None else round(per, 2),
           "ok": not problems and per is not None, "problems": problems}
    append_record(args.results, rec)
    per_s = "n/a" if per is None else f"{per:.2f} KiB"
    print(f"  idle {args.name:9} {len(alive)}/{args.count} held "
          f"(opened in {open_s:.1f} s), Pss {base} -> {held} KiB, "
          f"{nproc0} -> {nproc1} processes: {per_s} per connection"
          + ("" if rec["ok"] else "  BROKEN: " + "; ".join(problems)),
          flush=True)
    return 0 if rec["ok"] else 1


# ---------------------------------------------------------------- report ---

SERVERS = ("smtp-sink", "cutoverd", "postfix")


def ratio(a, b):
    return None if a is None or b in (None, 0) else round(a / b, 4)


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def medians(records):
    """{(server, conc): {"sps": median, "cpu": median, "n": valid rounds,
    "broken": broken rounds}} over the measured (non warm-up) load runs."""
    groups = {}
    for r in records:
        if r["kind"] == "load" and not r["warmup"]:
            groups.setdefault((r["server"], r["conc"]), []).append(r)
    out = {}
    for key, runs in groups.items():
        good = [r for r in runs if r["ok"]]
        out[key] = {
            "sessions_per_s": statistics.median(
                [r["sessions_per_s"] for r in good]) if good else None,
            "cpu_s_per_1000": statistics.median(
                [r["cpu_s_per_1000"] for r in good]) if good else None,
            "rounds": len(good), "broken": len(runs) - len(good)}
    return out


def idle_results(records):
    return {r["server"]: r for r in records if r["kind"] == "idle"}


def targets(med, idle, concs, idle_want):
    out = []

    def add(name, value, limit, cmp):
        ok = None if value is None or limit is None else \
            (value <= limit if cmp == "<=" else value >= limit)
        out.append({"target": name, "value": value, "limit": limit,
                    "pass": ok})

    def m(server, conc, metric):
        return med.get((server, conc), {}).get(metric)

    for c in concs:
        cpu = m("cutoverd", c, "cpu_s_per_1000")
        sink_cpu = m("smtp-sink", c, "cpu_s_per_1000")
        pf_cpu = m("postfix", c, "cpu_s_per_1000")
        add(f"c={c} CPU s/1000 sessions <= 1.5 x smtp-sink", cpu,
            None if sink_cpu is None else 1.5 * sink_cpu, "<=")
        add(f"c={c} CPU s/1000 sessions <= 0.25 x postfix", cpu,
            None if pf_cpu is None else 0.25 * pf_cpu, "<=")
    for c in concs:
        sps = m("cutoverd", c, "sessions_per_s")
        sink_sps = m("smtp-sink", c, "sessions_per_s")
        add(f"c={c} sessions/s >= 0.9 x smtp-sink", sps,
            None if sink_sps is None else 0.9 * sink_sps, ">=")
    cut = idle.get("cutoverd", {})
    note = "" if (cut.get("held") or 0) >= IDLE_TARGET_HELD else \
        f" (the target is defined at {IDLE_TARGET_HELD})"
    add(f"idle Pss KiB/connection <= 8 with {cut.get('held')} of "
        f"{idle_want} held{note}",
        cut.get("kib_per_conn") if cut.get("ok") else None, 8.0, "<=")
    return out


def print_table(med, idle, concs):
    hdr = (f"{'metric':34}{'smtp-sink':>12}{'cutoverd':>12}{'postfix':>12}"
           f"{'cut/sink':>10}{'cut/pfx':>10}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for metric, label, spec in (("sessions_per_s", "sessions/s", ".0f"),
                                ("cpu_s_per_1000", "CPU s / 1000 sessions",
                                 ".4f")):
        for c in concs:
            vals = [med.get((s, c), {}).get(metric) for s in SERVERS]
            rows.append((f"{label} (c={c})", vals, spec))
    vals = [idle.get(s, {}).get("kib_per_conn") if idle.get(s, {}).get("ok")
            else None for s in SERVERS]
    rows.append(("Pss KiB / idle connection", vals, ".2f"))
    for label, (sink, cut, pf), spec in rows:
        print(f"{label:34}{fmt(sink, spec):>12}{fmt(cut, spec):>12}"
              f"{fmt(pf, spec):>12}{fmt(ratio(cut, sink), '.2f'):>10}"
              f"{fmt(ratio(cut, pf), '.3f'):>10}")
    held = "  ".join(f"{s}: {idle[s]['held']}" for s in SERVERS if s in idle)
    print(f"{'  (idle connections held)':34}  {held}")


def cmd_report(args):
    with open(args.results) as f:
        records = [json.loads(line) for line in f if line.strip()]
    meta = {}
    for kv in args.meta:
        key, _, val = kv.partition("=")
        meta[key] = int(val) if val.isdigit() else val
    concs = sorted({r["conc"] for r in records if r["kind"] == "load"
                    and not r["warmup"]})
    med = medians(records)
    idle = idle_results(records)
    tg = targets(med, idle, concs, meta.get("idle_connections"))
    print()
    print(f"== results: median of {meta.get('rounds')} round(s) of "
          f"{meta.get('sessions')} sessions; ratios are cutoverd / other ==")
    print_table(med, idle, concs)
    print()
    print("== targets ==")
    for t in tg:
        word = {True: "PASS", False: "FAIL", None: "N/A "}[t["pass"]]
        print(f"  {word}  {t['target']}: {fmt(t['value'], '.5g')} "
              f"(limit {fmt(t['limit'], '.5g')})")
    broken = [r for r in records if not r["ok"]]
    if broken:
        print()
        print(f"== {len(broken)} BROKEN measurement(s): not counted ==")
        for r in broken:
            print(f"  {r['kind']} {r['server']} "
                  f"c={r.get('conc', '-')} round {r.get('round', '-')}: "
                  + "; ".join(r["problems"]))
    result = {"meta": meta, "runs": records,
              "medians": [{"server": s, "conc": c, **v}
                          for (s, c), v in sorted(med.items())],
              "idle": idle,
              "ratios": ratios_json(med, idle, concs),
              "targets": tg, "broken": len(broken)}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.out)
    print()
    print(f"results written to {args.out}")
    return 1 if broken else 0


def ratios_json(med, idle, concs):
    out = {}
    for c in concs:
        for metric in ("sessions_per_s", "cpu_s_per_1000"):
            cut = med.get(("cutoverd", c), {}).get(metric)
            for other in ("smtp-sink", "postfix"):
                val = med.get((other, c), {}).get(metric)
                out[f"c{c}.{metric}.cutoverd/{other}"] = ratio(cut, val)
    cut = idle.get("cutoverd", {}).get("kib_per_conn")
    for other in ("smtp-sink", "postfix"):
        out[f"idle.kib_per_conn.cutoverd/{other}"] = ratio(
            cut, idle.get(other, {}).get("kib_per_conn"))
    return out


# ------------------------------------------------------------------ main ---

def on_term(signum, _frame):
    """bench.sh's trap sends SIGTERM: exit through the finally blocks so a
    running smtp-source is killed too."""
    sys.exit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, on_term)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport").set_defaults(fn=cmd_freeport)
    w = sub.add_parser("wait-banner")
    w.add_argument("port", type=int)
    w.add_argument("seconds", type=float)
    w.set_defaults(fn=cmd_wait_banner)
    t = sub.add_parser("tree")
    t.add_argument("pid", type=int)
    t.set_defaults(fn=cmd_tree)
    lo = sub.add_parser("load")
    for name, typ in (("--name", str), ("--pid", int), ("--port", int),
                      ("--conc", int), ("--sessions", int), ("--round", int),
                      ("--timeout", float), ("--results", str),
                      ("--workdir", str), ("--smtp-source", str)):
        lo.add_argument(name, type=typ, required=True)
    lo.add_argument("--check", choices=("none", "cutoverd", "postfix"),
                    required=True)
    lo.add_argument("--log", default="")
    lo.add_argument("--warmup", action="store_true")
    lo.set_defaults(fn=cmd_load)
    i = sub.add_parser("idle")
    for name, typ in (("--name", str), ("--pid", int), ("--port", int),
                      ("--count", int), ("--timeout", float),
                      ("--results", str)):
        i.add_argument(name, type=typ, required=True)
    i.add_argument("--settle", type=float, default=1.5)
    i.add_argument("--inflight", type=int, default=256)
    i.set_defaults(fn=cmd_idle)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("meta", nargs="*", help="key=value facts about the run")
    r.set_defaults(fn=cmd_report)
    args = p.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
