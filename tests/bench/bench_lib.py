#!/usr/bin/env python3
"""Measurement helper for tests/bench/bench.sh (stdlib only).

bench.sh owns the servers (start, stop, trap); this helper only measures,
one subcommand per job (bench_report.py turns the records into the report):

  freeport                      print a free TCP port on 127.0.0.1
  wait-banner PORT SECONDS      wait until a connect to PORT gets a 220 banner
  tree PID                      print PID and all its live descendants
  cpus                          print the CPUs this process may run on
  orders ...                    the seeded random server order of every round
  load ...                      drive one server with smtp-source once, append
                                a JSON record to --results
  idle ...                      hold N idle connections, measure the server's
                                Pss growth per connection, append a record

How the numbers are taken, and why:
- Server CPU is read from /proc/PID/stat for the server's whole process tree:
  for every live process utime+stime+cutime+cstime.  cutime/cstime hold only
  children that were already reaped, so nothing is counted twice, and a
  Postfix smtpd that exits during the run (max_use) is still counted, in
  master's cutime.  The same formula serves a single-process server.
- Pinning: bench.sh starts every server on one CPU (--server-cpu) and this
  helper runs smtp-source on another (--client-cpu), so the client never
  competes with the server it measures.  Each run checks the affinity of the
  whole server tree before and after; a server process found elsewhere makes
  the run broken, because its numbers would not be comparable.  "Other" CPU
  is split per CPU: what the rest of the machine took from the server's CPU
  and from the client's CPU during the run.
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
import random
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
IP_BIND_ADDRESS_NO_PORT = 24
SENDER = "sender@example.org"
RCPT = "rcpt@example.com"
CLIENT_NAME = "bench-client.test"
EXPECT_CLIENT = "recipient rejected: 451 "
SERVERS = ("smtp-sink", "cutoverd", "postfix")


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


def busy_seconds():
    """Busy CPU seconds from /proc/stat: {"all": whole machine, N: CPU N}."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            name, *rest = line.split()
            fields = [int(x) for x in rest]
            busy = (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK
            out["all" if name == "cpu" else int(name[3:])] = busy
    return out


def tree_affinity_problems(root, cpu):
    """Processes of root's tree that may run anywhere but CPU cpu."""
    bad = []
    for pid in proc_tree(root):
        try:
            allowed = os.sched_getaffinity(pid)
        except OSError:
            continue
        if allowed != {cpu}:
            bad.append(f"{pid} on CPUs {sorted(allowed)}")
    return bad


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


def cmd_cpus(_args):
    print(" ".join(str(c) for c in sorted(os.sched_getaffinity(0))))
    return 0


def cmd_orders(args):
    """One line per measured run set: CONC ROUND SERVER SERVER SERVER, the
    servers (--servers, default the three of the limbo benchmark) shuffled
    per round by a generator seeded with --seed, so that the order is random
    but the same seed repeats it."""
    rng = random.Random(args.seed)
    for conc in args.concs:
        for rnd in range(1, args.rounds + 1):
            order = list(args.servers)
            rng.shuffle(order)
            print(conc, rnd, *order)
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

def run_smtp_source(args, errpath, cmd=None):
    """Run smtp-source (by default the limbo dialogue: -A, one RCPT) on the
    client's CPU; return (cmd, exit status, timed out, wall, client CPU)."""
    if cmd is None:
        cmd = [args.smtp_source, "-A", "-s", str(args.conc), "-m",
               str(args.sessions), "-f", SENDER, "-t", RCPT, "-M",
               CLIENT_NAME, f"127.0.0.1:{args.port}"]
    pin = None
    if args.client_cpu >= 0:
        def pin():
            os.sched_setaffinity(0, {args.client_cpu})
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(errpath, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=pin)
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
           "round": args.round, "slot": args.slot, "sessions": args.sessions,
           "warmup": args.warmup, "ok": False, "problems": [why]}
    append_record(args.results, rec)
    print(f"  c={args.conc:<4} {args.name:9} BROKEN: {why}", flush=True)
    return 1


def load_problems(args, run, got, odd, affinity):
    """Everything that makes this run not count, as readable strings."""
    rc, timed_out = run["rc"], run["timed_out"]
    ok_client, n_other, other = run["client"]
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
    if affinity:
        problems.append(f"server not pinned to CPU {args.server_cpu}: "
                        f"{affinity[:5]}")
    return problems


def other_cpu(args, busy0, busy1, cpu, client_cpu):
    """CPU the rest of the machine (other users, builds) used during the
    run: on the server's and on the client's CPU when pinned, else in all.
    The server's CPU after the client ended is small."""
    def delta(key):
        return busy1.get(key, 0.0) - busy0.get(key, 0.0)
    out = {"all": max(0.0, delta("all") - cpu - client_cpu)}
    if args.server_cpu >= 0 and args.client_cpu >= 0:
        out["server_cpu"] = max(0.0, delta(args.server_cpu) - cpu)
        out["client_cpu"] = max(0.0, delta(args.client_cpu) - client_cpu)
    return out


def load_record(args, run, cpu, other, got, problems):
    wall, client_cpu = run["wall"], run["client_cpu"]
    per = 1000 / args.sessions
    return {"kind": "load", "server": args.name, "conc": args.conc,
            "round": args.round, "slot": args.slot,
            "sessions": args.sessions, "warmup": args.warmup,
            "wall_s": round(wall, 4),
            "sessions_per_s": round(args.sessions / wall, 1),
            "cpu_s": round(cpu, 3), "cpu_s_per_1000": round(cpu * per, 4),
            "server_util": round(cpu / wall, 3),
            "client_cpu_s": round(client_cpu, 3),
            "client_cpu_s_per_1000": round(client_cpu * per, 4),
            "client_util": round(client_cpu / wall, 3),
            "background_cpu_s": round(other["all"], 2),
            "other_on_server_cpu_s": round(other.get("server_cpu", -1), 2),
            "other_on_client_cpu_s": round(other.get("client_cpu", -1), 2),
            "server_cpu_pin": args.server_cpu,
            "client_cpu_pin": args.client_cpu,
            "client_451": run["client"][0], "server_counts": got,
            "ok": not problems, "problems": problems,
            "command": run["cmd"]}


def print_load(args, rec):
    tag = "warm-up" if args.warmup else f"r{args.round}/{args.slot}"
    if rec["other_on_server_cpu_s"] >= 0:
        other = (f"{rec['other_on_server_cpu_s']:5.2f} "
                 f"{rec['other_on_client_cpu_s']:5.2f}")
    else:
        other = f"{rec['background_cpu_s']:5.2f} (all CPUs)"
    status = "ok" if rec["ok"] else "BROKEN: " + "; ".join(rec["problems"])
    print(f"  c={args.conc:<3} {tag:7} {args.name:9} {args.sessions:5d} in "
          f"{rec['wall_s']:6.2f} s {rec['sessions_per_s']:6.0f}/s | server "
          f"{rec['cpu_s']:5.2f} {rec['cpu_s_per_1000']:.4f} "
          f"{rec['server_util'] * 100:3.0f}% | client "
          f"{rec['client_cpu_s']:5.2f} {rec['client_cpu_s_per_1000']:.4f} "
          f"{rec['client_util'] * 100:3.0f}% | other {other} | {status}",
          flush=True)


def cmd_load(args):
    tail = LogTail(args.log) if args.check != "none" else None
    affinity = []
    if args.server_cpu >= 0:
        affinity = tree_affinity_problems(args.pid, args.server_cpu)
    try:
        cpu0 = tree_cpu_seconds(args.pid)
    except RuntimeError as e:
        return broken_load(args, str(e))
    errpath = os.path.join(args.workdir,
                           f"src-{args.name}-c{args.conc}-r{args.round}.err")
    busy0 = busy_seconds()
    cmd, rc, timed_out, wall, client_cpu = run_smtp_source(args, errpath)
    busy1 = busy_seconds()
    got, odd = server_counts(args.check, tail, args.sessions, 10)
    time.sleep(0.3)
    try:
        cpu1 = tree_cpu_seconds(args.pid)
    except RuntimeError as e:
        return broken_load(args, f"{e} after the run")
    if args.server_cpu >= 0:
        affinity += tree_affinity_problems(args.pid, args.server_cpu)
    run = {"cmd": cmd, "rc": rc, "timed_out": timed_out, "wall": wall,
           "client_cpu": client_cpu, "client": client_counts(errpath)}
    cpu = cpu1 - cpu0
    problems = load_problems(args, run, got, odd, affinity)
    other = other_cpu(args, busy0, busy1, cpu, client_cpu)
    rec = load_record(args, run, cpu, other, got, problems)
    append_record(args.results, rec)
    print_load(args, rec)
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
    sub.add_parser("cpus").set_defaults(fn=cmd_cpus)
    o = sub.add_parser("orders")
    o.add_argument("--seed", type=int, required=True)
    o.add_argument("--rounds", type=int, required=True)
    o.add_argument("--concs", type=int, nargs="+", required=True)
    o.add_argument("--servers", nargs="+", default=list(SERVERS))
    o.set_defaults(fn=cmd_orders)
    lo = sub.add_parser("load")
    for name, typ in (("--name", str), ("--pid", int), ("--port", int),
                      ("--conc", int), ("--sessions", int), ("--round", int),
                      ("--slot", int), ("--server-cpu", int),
                      ("--client-cpu", int),
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
    args = p.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
