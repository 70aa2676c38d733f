#!/usr/bin/env python3
"""Report for tests/bench/relay_bench.sh (stdlib only).

  relay_report.py --results RUNS.jsonl --out RESULT.json [key=value ...]

Reads the records relay_lib.py appended (relay-load runs in bench_lib's
load format, latency samples), prints medians, the cutoverd/Postfix paired
ratios, the client-bound check, the latency figures and the targets, and
writes everything to one JSON file.  Medians, paired ratios and the
client-bound verdicts are computed by bench_report.py, the limbo report,
so both benchmarks read their numbers the same way: ratios are taken
within a round (the two servers ran back to back) and the median of the
per-round ratios decides PASS/FAIL.

Latency: every sample is one transaction's time from the client's final
dot to the 250 it got.  Samples are pooled per server over the rounds; the
latency cutoverd adds is its percentile minus smtp-sink's (the same client
talking to the sink directly), for p50 and p99.  Taking the difference of
percentiles, not per-transaction differences, because the two series are
not paired transaction by transaction.
"""

import argparse
import json
import os
import sys

import bench_report as br
from relay_lib import percentile

SERVERS = ("cutoverd", "postfix")
TARGET_RATE = 3.0
TARGET_CPU = 0.5
TARGET_P99_MS = 5.0

# key, label, format, ratio cutoverd/postfix meaningful
METRICS = (
    ("sessions_per_s", "messages/s (done at the sink)", ".0f", True),
    ("accept_per_s", "messages/s answered 250 (client)", ".0f", True),
    ("cpu_s_per_1000", "server CPU s / 1000 messages", ".4f", True),
    ("capacity", "derived capacity, messages/CPU-s", ".0f", True),
    ("sink_cpu_s_per_1000", "sink CPU s / 1000 messages", ".4f", False),
    ("client_cpu_s_per_1000", "client CPU s / 1000 messages", ".4f", False),
    ("client_util", "client CPU / wall time", ".0%", False),
    ("client_busy", "client's CPU busy (+ other) / wall", ".0%", False),
    ("server_util", "server CPU / wall time", ".0%", False),
    ("server_busy", "server's CPU busy (+ other) / wall", ".0%", False),
)


def value(run, metric):
    if metric == "accept_per_s":
        return run["sessions"] / run["accept_wall_s"]
    if metric == "sink_cpu_s_per_1000":
        return run["sink_cpu_s"] * 1000 / run["sessions"]
    return br.value(run, metric)


def medians(records):
    """bench_report's medians plus the relay-only metrics."""
    med = br.medians(records)
    for (server, conc), m in med.items():
        good = [r for r in br.measured(records)
                if r["server"] == server and r["conc"] == conc]
        for metric in ("accept_per_s", "sink_cpu_s_per_1000"):
            m[metric] = br.median_or_none([value(r, metric) for r in good])
    return med


def latency(records):
    """{server: {"n", "p50", "p90", "p99", "max"}} over all good rounds,
    and {"p50", "p99"}: cutoverd minus smtp-sink."""
    pooled, waits = {}, {}
    for r in records:
        if r["kind"] == "latency" and r["ok"]:
            pooled.setdefault(r["server"], []).extend(r["samples_ms"])
            w = waits.setdefault(r["server"], {})
            for key in ("server_cpu_run_ms", "server_cpu_wait_ms",
                        "sink_cpu_run_ms", "sink_cpu_wait_ms"):
                if key in r:
                    w[key] = w.get(key, 0.0) + r[key]
    out = {}
    for server, vals in pooled.items():
        vals.sort()
        out[server] = {"n": len(vals), "max": vals[-1],
                       **{f"p{p}": percentile(vals, p) for p in (50, 90, 99)},
                       **{k.replace("_ms", "_ms_per_txn"): v / len(vals)
                          for k, v in waits[server].items()}}
    added = {}
    for p in ("p50", "p99"):
        cut = out.get("cutoverd", {}).get(p)
        sink = out.get("smtp-sink", {}).get(p)
        added[p] = None if cut is None or sink is None else cut - sink
    return out, added


# ------------------------------------------------------------- targets ---

def targets(med, pairs, added, concs):
    out = []

    def add(name, val, limit, cmp, basis=""):
        ok = None if val is None else {"<=": val <= limit,
                                       ">=": val >= limit,
                                       "<": val < limit}[cmp]
        out.append({"target": name, "value": br.rnd(val), "limit": limit,
                    "pass": ok, "basis": basis, "note": ""})

    def of_medians(metric, c):
        return br.ratio(med.get(("cutoverd", c), {}).get(metric),
                        med.get(("postfix", c), {}).get(metric))

    for c in concs:
        p = pairs[("sessions_per_s", c, "postfix")]
        add(f"c={c} messages/s, cutoverd/postfix >= {TARGET_RATE}",
            p["median"], TARGET_RATE, ">=",
            br.paired_basis(p, of_medians("sessions_per_s", c)))
        p = pairs[("cpu_s_per_1000", c, "postfix")]
        add(f"c={c} server CPU/1000 messages, cutoverd/postfix <= "
            f"{TARGET_CPU}", p["median"], TARGET_CPU, "<=",
            br.paired_basis(p, of_medians("cpu_s_per_1000", c)))
    add(f"p99 added latency (cutoverd - smtp-sink) < {TARGET_P99_MS} ms",
        added["p99"], TARGET_P99_MS, "<",
        "nearest-rank p99 of the pooled samples of each")
    return out


# ------------------------------------------------------------- printing ---

def print_medians(med, concs, meta):
    print(f"== medians of {meta.get('rounds')} round(s) of "
          f"{meta.get('messages')} messages of {meta.get('size')} bytes per "
          f"server; cut/pfx is the ratio of medians ==")
    hdr = f"{'metric':46}{'cutoverd':>11}{'postfix':>11}{'cut/pfx':>10}"
    print(hdr)
    print("-" * len(hdr))
    for metric, label, spec, has_ratio in METRICS:
        for c in concs:
            cut, pf = (med.get((s, c), {}).get(metric) for s in SERVERS)
            r = br.fmt(br.ratio(cut, pf), ".3f") if has_ratio else ""
            print(f"{label + f' (c={c})':46}{br.fmt(cut, spec):>11}"
                  f"{br.fmt(pf, spec):>11}{r:>10}")


def print_paired(med, pairs, concs):
    print("== paired ratios: cutoverd / postfix within the same round; "
          "median (min-max), ratio of medians beside it ==")
    for metric, label, _, _ in METRICS:
        if metric not in br.PAIRED:
            continue
        for c in concs:
            p = pairs[(metric, c, "postfix")]
            om = br.ratio(med.get(("cutoverd", c), {}).get(metric),
                          med.get(("postfix", c), {}).get(metric))
            rounds = " ".join(f"{q:.3f}" for _, q in p["per_round"])
            print(f"  {label + f' (c={c})':46} {br.fmt(p['median'], '.3f'):>6}"
                  f" ({br.fmt(p['min'], '.3f')}-{br.fmt(p['max'], '.3f')})"
                  f"  of medians {br.fmt(om, '.3f'):>6}  rounds: {rounds}")


def print_client_bound(med, bound, concs):
    print(f"== client-bound? (client CPU >= {br.CLIENT_BOUND:.0%} of the "
          f"wall time, or its CPU that busy with other work and the sink) ==")
    for c in concs:
        for s in SERVERS:
            m = med.get((s, c), {})
            print(f"  c={c:<4} {s:9} {br.VERDICT[bound.get((s, c))]:20} "
                  f"client {br.fmt(m.get('client_util'), '.0%'):>4} (busy "
                  f"{br.fmt(m.get('client_busy'), '.0%'):>4}), server "
                  f"{br.fmt(m.get('server_util'), '.0%'):>4} (busy "
                  f"{br.fmt(m.get('server_busy'), '.0%'):>4})")
        if bound.get(("cutoverd", c)) in ("client-bound", "saturated"):
            print(f"         => c={c}: cutoverd's messages/s is limited by "
                  f"the client's CPU; its derived capacity is the better "
                  f"figure")


def print_latency(lat, added):
    print("== latency per transaction: client's final dot -> 250, ms "
          "(cutoverd relays to smtp-sink; smtp-sink is the same client "
          "direct) ==")
    for s in ("cutoverd", "smtp-sink"):
        m = lat.get(s)
        if not m:
            print(f"  {s:9} no valid samples")
            continue
        cpu = ", ".join(
            f"{who} ran {m[f'{who}_cpu_run_ms_per_txn']:.3f} waited "
            f"{m[f'{who}_cpu_wait_ms_per_txn']:.3f}" for who in
            ("server", "sink") if f"{who}_cpu_wait_ms_per_txn" in m)
        print(f"  {s:9} n={m['n']:<6} p50 {m['p50']:.3f}  p90 "
              f"{m['p90']:.3f}  p99 {m['p99']:.3f}  max {m['max']:.3f}  "
              f"| per transaction, ms: {cpu}")
    print(f"  added by cutoverd: p50 {br.fmt(added['p50'], '.3f')} ms, p99 "
          f"{br.fmt(added['p99'], '.3f')} ms")
    print("  (ran / waited: CPU time and run-queue wait of the main thread, "
          "from /proc/PID/schedstat; a wait\n   near or above the added "
          "latency means other work on the CPU, not the relay, made it)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("meta", nargs="*", help="key=value facts about the run")
    args = p.parse_args()
    with open(args.results) as f:
        records = [json.loads(line) for line in f if line.strip()]
    meta = {}
    for kv in args.meta:
        key, _, val = kv.partition("=")
        meta[key] = int(val) if val.lstrip("-").isdigit() else val
    concs = sorted({r["conc"] for r in records if r["kind"] == "load"
                    and not r["warmup"]})
    med = medians(records)
    pairs = br.paired(records, concs)
    bound = br.client_bound(med, concs)
    lat, added = latency(records)
    tg = targets(med, pairs, added, concs)
    broken = [r for r in records if not r["ok"]]
    for show in (lambda: print_medians(med, concs, meta),
                 lambda: print_paired(med, pairs, concs),
                 lambda: print_client_bound(med, bound, concs),
                 lambda: print_latency(lat, added),
                 lambda: br.print_targets(tg)):
        print()
        show()
    br.print_broken(broken)
    result = {
        "meta": meta,
        "runs": [r for r in records if r["kind"] == "load"],
        "latency_runs": [{k: v for k, v in r.items() if k != "samples_ms"}
                         for r in records if r["kind"] == "latency"],
        "medians": [{"server": s, "conc": c,
                     **{k: br.rnd(v) if isinstance(v, float) else v
                        for k, v in m.items()}}
                    for (s, c), m in sorted(med.items())],
        "paired_ratios": [
            {"metric": m, "conc": c, "cutoverd_over": peer,
             "per_round": [{"round": r, "ratio": br.rnd(q)}
                           for r, q in p_["per_round"]],
             "median": br.rnd(p_["median"]), "min": br.rnd(p_["min"]),
             "max": br.rnd(p_["max"])}
            for (m, c, peer), p_ in sorted(pairs.items()) if peer == "postfix"],
        "client_bound": [{"server": s, "conc": c, "client_bound": b}
                         for (s, c), b in sorted(bound.items())
                         if s in SERVERS],
        "latency_ms": lat, "latency_added_ms": added,
        "targets": tg, "broken": len(broken)}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.out)
    print()
    print(f"results written to {args.out}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
