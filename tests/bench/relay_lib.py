#!/usr/bin/env python3
"""Measurement helper for the relay benchmark, tests/bench/relay_bench.sh
(stdlib only).  It reuses bench_lib.py (the limbo benchmark's helper) for
/proc accounting, pinning checks, smtp-source runs and the record format,
so that both benchmarks measure the same way; only what differs is here:

  relay-load ...   drive cutoverd (live, proxy) or Postfix (relayhost, its
                   queue) with smtp-source -l SIZE once; the run ends when
                   smtp-sink, the next hop of both, has received every
                   message; append a JSON record to --results
  latency ...      N sequential transactions over a few sessions, each
                   timed from the client's final "." to the 250 for it;
                   append the samples to --results

Why a message counts only at the sink: Postfix answers 250 once the message
is in its queue and delivers later, cutoverd answers 250 only after the
next hop did.  Timing smtp-source alone would credit Postfix with work it
has not done yet.  So for both servers the wall time runs from the start of
smtp-source to the moment smtp-sink's counter (-c, "mesg=N") shows every
message of the run, and the server's CPU is read once the server is idle
again (Postfix: its queue is empty and its log shows every delivery).

The record has the fields of a bench_lib load record (sessions = messages,
one message and one recipient per SMTP session), so bench_report.py's
medians and paired ratios work on it unchanged, plus: mode "relay", size,
accept_wall_s (smtp-source's own time: when the last 250 came),
deliver_wall_s, sink_cpu_s.  A run counts only when smtp-source exited 0
with nothing on stderr, the sink got exactly the run's messages, the
server's log shows each of them relayed and (Postfix) its queue is empty.
"""

import argparse
import json
import os
import re
import socket
import sys
import time

import bench_lib as bl

MESG_RE = re.compile(rb"mesg=(\d+)")
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


# ----------------------------------------------------------------- sink ---

def sink_messages(path):
    """Messages smtp-sink -c has counted so far: its stdout holds records
    "sess=N quit=N mesg=N" each ended by CR; the last complete one wins."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 512))
            tail = f.read()
    except OSError:
        return 0
    done = tail[:tail.rfind(b"\r") + 1]
    found = MESG_RE.findall(done)
    return int(found[-1]) if found else 0


def wait_sink(path, want, deadline):
    """Poll the sink's counter every 2 ms until it reaches want; return
    (count, time it was first seen there)."""
    while True:
        n = sink_messages(path)
        now = time.monotonic()
        if n >= want or now >= deadline:
            return n, now
        time.sleep(0.002)


def queue_files(qdir):
    """Files in Postfix's queues (messages not yet delivered)."""
    n = 0
    for q in QUEUES:
        for _, _, files in os.walk(os.path.join(qdir, q)):
            n += len(files)
    return n


def wait_queue_empty(qdir, deadline):
    while queue_files(qdir) and time.monotonic() < deadline:
        time.sleep(0.02)
    return queue_files(qdir)


def proc_seconds(pid):
    st = bl.proc_stat(pid)
    return 0.0 if st is None else st[1] / bl.CLK_TCK


# ------------------------------------------------------- server logs ---

def count_cutoverd_relay(lines):
    """One connect, one live RCPT relayed (250), one data line with 250
    and one disconnect (quit) per message; anything else is odd."""
    got = {"connect": 0, "rcpt_live_250": 0, "data_250": 0,
           "disconnect_quit": 0}
    odd = []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            odd.append("not JSON: " + line[:160])
            continue
        kind, reply = ev.get("ev"), str(ev.get("reply", ""))
        if kind == "connect":
            got["connect"] += 1
        elif kind == "rcpt" and ev.get("state") == "live" \
                and reply.startswith("250"):
            got["rcpt_live_250"] += 1
        elif kind == "data" and reply.startswith("250"):
            got["data_250"] += 1
        elif kind == "disconnect" and ev.get("reason") == "quit":
            got["disconnect_quit"] += 1
        else:
            odd.append(line[:240])
    return got, odd


def count_postfix_relay(lines):
    """One status=sent per message, and no deferral, bounce or warning."""
    got = {"status_sent": 0}
    odd = []
    for line in lines:
        if " status=sent " in line:
            got["status_sent"] += 1
        elif any(w in line for w in (" warning: ", " fatal: ", " panic: ",
                                     " error: ", " status=deferred ",
                                     " status=bounced ")):
            odd.append(line[:240])
    return got, odd


def server_log_counts(kind, tail, want, deadline):
    counter = count_cutoverd_relay if kind == "cutoverd" \
        else count_postfix_relay
    while True:
        got, odd = counter(tail.new_lines())
        if min(got.values()) >= want or time.monotonic() >= deadline:
            return got, odd
        time.sleep(0.1)


# ------------------------------------------------------------ relay-load ---

def source_cmd(args):
    """One 10 KiB message (-l, payload without headers) per session, one
    recipient, concurrency -s; no -A: any non-2xx reply is an error."""
    return [args.smtp_source, "-s", str(args.conc), "-m", str(args.sessions),
            "-l", str(args.size), "-f", bl.SENDER, "-t", bl.RCPT,
            "-M", bl.CLIENT_NAME, f"127.0.0.1:{args.port}"]


def run_once(args, errpath):
    """smtp-source, then wait for the sink; return the run facts."""
    sink0 = sink_messages(args.sink_count)
    sink_cpu0 = proc_seconds(args.sink_pid)
    busy0 = bl.busy_seconds()
    t0 = time.monotonic()
    cmd, rc, timed_out, accept_wall, client_cpu = bl.run_smtp_source(
        args, errpath, source_cmd(args))
    got_sink, t_done = wait_sink(args.sink_count, sink0 + args.sessions,
                                 t0 + args.timeout)
    busy1 = bl.busy_seconds()
    return {"cmd": cmd, "rc": rc, "timed_out": timed_out,
            "accept_wall": accept_wall, "wall": max(t_done - t0, accept_wall),
            "client_cpu": client_cpu, "sink0": sink0,
            "sink_got": got_sink - sink0, "sink_cpu0": sink_cpu0,
            "busy0": busy0, "busy1": busy1,
            "client": client_stderr(errpath)}


def client_stderr(errpath):
    """(0, number of stderr lines, the first few), in the shape of
    bench_lib.client_counts; without -A smtp-source prints nothing when
    every reply was the expected one, so any line is a problem."""
    lines = []
    with open(errpath, "rb") as f:
        for raw in f:
            lines.append(raw.decode("utf-8", "replace").rstrip("\n")[:240])
    return 0, len(lines), lines[:5]


def relay_problems(args, run, got, odd, affinity, queued):
    problems = []
    if run["timed_out"]:
        problems.append(f"smtp-source killed after {args.timeout}s")
    if run["rc"] != 0:
        problems.append(f"smtp-source exit status {run['rc']}")
    if run["client"][1]:
        problems.append(f"{run['client'][1]} smtp-source messages: "
                        f"{run['client'][2]}")
    if run["sink_got"] != args.sessions:
        problems.append(f"smtp-sink received {run['sink_got']} of "
                        f"{args.sessions} messages")
    for key, val in got.items():
        if val != args.sessions:
            problems.append(f"server log: {key} = {val}, want "
                            f"{args.sessions}")
    if odd:
        problems.append(f"{len(odd)} unexpected server log lines, first: "
                        f"{odd[:3]}")
    if queued:
        problems.append(f"{queued} messages still in Postfix's queue")
    if affinity:
        problems.append(f"server not pinned to CPU {args.server_cpu}: "
                        f"{affinity[:5]}")
    return problems


def cmd_relay_load(args):
    args.sessions = args.messages
    tail = bl.LogTail(args.log)
    affinity = []
    if args.server_cpu >= 0:
        affinity = bl.tree_affinity_problems(args.pid, args.server_cpu)
    try:
        cpu0 = bl.tree_cpu_seconds(args.pid)
    except RuntimeError as e:
        return bl.broken_load(args, str(e))
    errpath = os.path.join(args.workdir, f"relay-{args.name}-c{args.conc}-"
                           f"r{args.round}-s{args.slot}.err")
    run = run_once(args, errpath)
    deadline = time.monotonic() + 30
    queued = wait_queue_empty(args.queue_dir, deadline) \
        if args.check == "postfix" else 0
    got, odd = server_log_counts(args.check, tail, args.sessions, deadline)
    time.sleep(0.3)
    try:
        cpu1 = bl.tree_cpu_seconds(args.pid)
    except RuntimeError as e:
        return bl.broken_load(args, f"{e} after the run")
    if args.server_cpu >= 0:
        affinity += bl.tree_affinity_problems(args.pid, args.server_cpu)
    sink_cpu = proc_seconds(args.sink_pid) - run["sink_cpu0"]
    cpu = cpu1 - cpu0
    problems = relay_problems(args, run, got, odd, affinity, queued)
    other = bl.other_cpu(args, run["busy0"], run["busy1"], cpu,
                         run["client_cpu"])
    rec = bl.load_record(args, run, cpu, other, got, problems)
    rec.update({"mode": "relay", "size": args.size,
                "accept_wall_s": round(run["accept_wall"], 4),
                "deliver_wall_s": round(run["wall"], 4),
                "sink_cpu_s": round(sink_cpu, 3),
                "sink_cpu_pin": args.sink_cpu})
    bl.append_record(args.results, rec)
    bl.print_load(args, rec)
    return 0 if rec["ok"] else 1


# --------------------------------------------------------------- latency ---

def message_body(size):
    """Headers plus about size bytes of 76-character lines, CRLF, none
    starting with a dot, so no dot-stuffing is needed."""
    head = (f"From: <{bl.SENDER}>\r\nTo: <{bl.RCPT}>\r\n"
            f"Subject: relay latency\r\nMessage-ID: <lat@bench.test>\r\n\r\n")
    line = ("x" * 76 + "\r\n").encode()
    return head.encode() + line * max(1, size // len(line))


class Client:
    """A blocking SMTP client with one reply reader; times are taken with
    perf_counter just before the final dot is sent and when the reply to it
    has been read completely."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.expect(b"220")

    def reply(self):
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise RuntimeError("server closed the connection")
            if line[3:4] != b"-":
                return line.rstrip(b"\r\n")

    def expect(self, code):
        line = self.reply()
        if not line.startswith(code):
            raise RuntimeError(f"want {code.decode()}, got {line[:200]!r}")
        return line

    def command(self, text, code):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.expect(code)

    def transaction(self, body):
        self.command(f"MAIL FROM:<{bl.SENDER}>", b"250")
        self.command(f"RCPT TO:<{bl.RCPT}>", b"250")
        self.command("DATA", b"354")
        self.sock.sendall(body)
        t0 = time.perf_counter()
        self.sock.sendall(b".\r\n")
        self.expect(b"250")
        return time.perf_counter() - t0

    def close(self):
        try:
            self.command("QUIT", b"221")
        finally:
            self.rfile.close()
            self.sock.close()


def schedstat_ms(pid):
    """(ran, waited on a run queue) in milliseconds for the process's main
    thread, from /proc/PID/schedstat (run ns, wait ns, slices)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            run, wait = f.read().split()[:2]
        return int(run) / 1e6, int(wait) / 1e6
    except (OSError, ValueError):
        return 0.0, 0.0


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_vals:
        return None
    rank = max(1, -(-len(sorted_vals) * p // 100))
    return sorted_vals[int(rank) - 1]


def run_transactions(args, body, samples):
    """Sessions of --per-session transactions until warm-up plus count
    are done; timed samples appended; return how many ran."""
    done, total = 0, args.warmup + args.count
    while done < total:
        c = Client(args.port, 10)
        c.command(f"EHLO {bl.CLIENT_NAME}", b"250")
        for _ in range(min(args.per_session, total - done)):
            dt = c.transaction(body)
            if done >= args.warmup:
                samples.append(round(dt * 1000, 4))
            done += 1
        c.close()
    return done


def cmd_latency(args):
    """Latency samples, plus how long the server (and, when it is a
    different process, the sink) waited for a CPU meanwhile: on a shared
    machine that wait, not the server's work, is what makes the tail."""
    body = message_body(args.size)
    samples, problems = [], []
    pids = {"server": args.pid}
    if args.sink_pid != args.pid:
        pids["sink"] = args.sink_pid
    st0 = {k: schedstat_ms(p) for k, p in pids.items()}
    try:
        run_transactions(args, body, samples)
    except (OSError, RuntimeError) as e:
        problems = [f"after {len(samples)} timed transactions: {e}"]
    wait = {}
    for k, p in pids.items():
        ran, waited = schedstat_ms(p)
        wait[f"{k}_cpu_run_ms"] = round(ran - st0[k][0], 2)
        wait[f"{k}_cpu_wait_ms"] = round(waited - st0[k][1], 2)
    rec = {"kind": "latency", "server": args.name, "round": args.round,
           "count": len(samples), "size": len(body),
           "per_session": args.per_session, "samples_ms": samples,
           **wait, "ok": not problems and len(samples) == args.count,
           "problems": problems}
    bl.append_record(args.results, rec)
    srt = sorted(samples)
    status = "ok" if rec["ok"] else "BROKEN: " + "; ".join(problems)
    cpu = ", ".join(f"{k} ran {wait[k + '_cpu_run_ms']:.0f} waited "
                    f"{wait[k + '_cpu_wait_ms']:.0f}" for k in pids)
    print(f"  latency r{args.round} {args.name:9} {len(samples)} "
          f"transactions: dot->250 p50 {fmt_ms(percentile(srt, 50))} p99 "
          f"{fmt_ms(percentile(srt, 99))} | CPU ms: {cpu} | {status}",
          flush=True)
    return 0 if rec["ok"] else 1


def fmt_ms(v):
    return "n/a" if v is None else f"{v:.3f} ms"


# ------------------------------------------------------------------ main ---

def main():
    bl.signal.signal(bl.signal.SIGTERM, bl.on_term)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    lo = sub.add_parser("relay-load")
    for name, typ in (("--name", str), ("--pid", int), ("--port", int),
                      ("--conc", int), ("--messages", int), ("--size", int),
                      ("--round", int), ("--slot", int),
                      ("--server-cpu", int), ("--client-cpu", int),
                      ("--sink-cpu", int), ("--sink-pid", int),
                      ("--sink-count", str), ("--timeout", float),
                      ("--results", str), ("--workdir", str),
                      ("--smtp-source", str), ("--log", str)):
        lo.add_argument(name, type=typ, required=True)
    lo.add_argument("--check", choices=("cutoverd", "postfix"),
                    required=True)
    lo.add_argument("--queue-dir", default="")
    lo.add_argument("--warmup", action="store_true")
    lo.set_defaults(fn=cmd_relay_load)
    la = sub.add_parser("latency")
    for name, typ in (("--name", str), ("--port", int), ("--count", int),
                      ("--size", int), ("--round", int), ("--pid", int),
                      ("--sink-pid", int), ("--results", str)):
        la.add_argument(name, type=typ, required=True)
    la.add_argument("--warmup", type=int, default=50)
    la.add_argument("--per-session", type=int, default=10)
    la.set_defaults(fn=cmd_latency)
    args = p.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
