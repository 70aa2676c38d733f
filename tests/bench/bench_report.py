#!/usr/bin/env python3
"""Report for tests/bench/bench.sh (stdlib only).

  bench_report.py --results RUNS.jsonl --out RESULT.json [key=value ...]

Reads the records that bench_lib.py load/idle appended, prints medians,
paired ratios, the client-bound check, the derived server capacity and the
targets, and writes everything to one JSON file.  It can be run again on a
results file kept with bench.sh --keep.

Why the numbers are read this way:
- Paired ratios.  Within a round the three servers run back to back, so
  they share the machine's state at that moment (other users' load, the
  client's speed of the day).  The ratio cutoverd/other is therefore taken
  per round, and the median of those per-round ratios (with min and max)
  is what the targets use.  The ratio of the per-server medians is printed
  beside it: it mixes rounds, and when the two disagree much the noise was
  larger than the difference.
- Client-bound.  smtp-source needs about as much CPU per session as a
  simple server.  When it used >= 90% of the wall time in CPU, sessions/s
  is the client's speed, not the server's; the server is then better
  compared by its CPU per 1000 sessions and by the derived capacity,
  1000 / (server CPU s per 1000 sessions): sessions per second of server
  CPU, what one fully busy CPU could serve if the client were not the
  limit.  It is derived, not measured, and is labelled so.
- Nothing is dropped: only runs that broke (wrong replies, lost log lines,
  lost pinning) are left out, and they are listed.  A round whose cutoverd
  or peer run broke yields no pair for that ratio, and the pair count says
  so.
"""

import argparse
import json
import os
import statistics
import sys

SERVERS = ("smtp-sink", "cutoverd", "postfix")
PEERS = ("smtp-sink", "postfix")
SHORT = {"smtp-sink": "sink", "postfix": "pfx"}
IDLE_TARGET_HELD = 10000
CLIENT_BOUND = 0.9

# key, label, format, whether a cutoverd/other ratio means something
METRICS = (
    ("sessions_per_s", "sessions/s", ".0f", True),
    ("cpu_s_per_1000", "server CPU s / 1000 sessions", ".4f", True),
    ("capacity", "derived capacity, sessions/CPU-s", ".0f", True),
    ("client_cpu_s_per_1000", "client CPU s / 1000 sessions", ".4f", False),
    ("client_util", "client CPU / wall time", ".0%", False),
    ("client_busy", "client's CPU busy (+ other) / wall", ".0%", False),
    ("server_util", "server CPU / wall time", ".0%", False),
    ("server_busy", "server's CPU busy (+ other) / wall", ".0%", False),
)
PAIRED = ("sessions_per_s", "cpu_s_per_1000", "capacity")


def value(run, metric):
    """One metric of one load record; the derived ones from raw fields."""
    if metric == "capacity":
        cpu = run["cpu_s_per_1000"]
        return None if cpu <= 0 else 1000 / cpu
    if metric == "client_cpu_s_per_1000":
        return run["client_cpu_s"] * 1000 / run["sessions"]
    if metric == "client_util":
        return run["client_cpu_s"] / run["wall_s"]
    if metric == "server_util":
        return run["cpu_s"] / run["wall_s"]
    if metric in ("client_busy", "server_busy"):
        side = metric.split("_")[0]
        other = run.get(f"other_on_{side}_cpu_s", -1)
        if other < 0:
            return None
        own = run["client_cpu_s" if side == "client" else "cpu_s"]
        return (own + other) / run["wall_s"]
    return run[metric]


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def rnd(v, digits=4):
    return None if v is None else round(v, digits)


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def median_or_none(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


# ------------------------------------------------------------ grouping ---

def measured(records):
    """Measured (non warm-up) load runs that count."""
    return [r for r in records if r["kind"] == "load" and not r["warmup"]
            and r["ok"]]


def medians(records):
    """{(server, conc): {metric: median, "rounds": n, "broken": n}}."""
    groups = {}
    for r in records:
        if r["kind"] == "load" and not r["warmup"]:
            groups.setdefault((r["server"], r["conc"]), []).append(r)
    out = {}
    for key, runs in groups.items():
        good = [r for r in runs if r["ok"]]
        out[key] = {m: median_or_none([value(r, m) for r in good])
                    for m, _, _, _ in METRICS}
        out[key]["client_bound_runs"] = sum(
            1 for r in good if value(r, "client_util") >= CLIENT_BOUND)
        out[key]["client_saturated_runs"] = sum(
            1 for r in good if value(r, "client_util") < CLIENT_BOUND
            and (value(r, "client_busy") or 0) >= CLIENT_BOUND)
        out[key]["rounds"] = len(good)
        out[key]["broken"] = len(runs) - len(good)
    return out


def paired(records, concs):
    """{(metric, conc, peer): {"per_round": [(round, ratio)], "median",
    "min", "max"}}: cutoverd over peer within the same round."""
    rounds = {}
    for r in measured(records):
        rounds.setdefault((r["conc"], r["round"]), {})[r["server"]] = r
    out = {}
    for metric in PAIRED:
        for c in concs:
            for peer in PEERS:
                per = []
                for (conc, rno), runs in sorted(rounds.items()):
                    if conc != c or "cutoverd" not in runs \
                            or peer not in runs:
                        continue
                    q = ratio(value(runs["cutoverd"], metric),
                              value(runs[peer], metric))
                    if q is not None:
                        per.append((rno, q))
                vals = [q for _, q in per]
                out[(metric, c, peer)] = {
                    "per_round": per,
                    "median": median_or_none(vals),
                    "min": min(vals) if vals else None,
                    "max": max(vals) if vals else None}
    return out


def client_bound(med, concs):
    """{(server, conc): verdict} from the medians: "client-bound" when the
    client's own CPU reached 90% of the wall time; "saturated" when it did
    not, but its CPU was that busy counting other work (pinned runs only):
    then sessions/s measures the client's share of a contended CPU; "no"
    otherwise; None without valid runs."""
    out = {}
    for s in SERVERS:
        for c in concs:
            m = med.get((s, c), {})
            util, busy = m.get("client_util"), m.get("client_busy")
            if util is None:
                out[(s, c)] = None
            elif util >= CLIENT_BOUND:
                out[(s, c)] = "client-bound"
            elif busy is not None and busy >= CLIENT_BOUND:
                out[(s, c)] = "saturated"
            else:
                out[(s, c)] = "no"
    return out


def idle_results(records):
    return {r["server"]: r for r in records if r["kind"] == "idle"}


# ------------------------------------------------------------- targets ---

def paired_basis(p, of_medians):
    n = len(p["per_round"])
    return (f"paired median of {n} round(s), min-max "
            f"{fmt(p['min'], '.3f')}-{fmt(p['max'], '.3f')}; ratio of "
            f"medians {fmt(of_medians, '.3f')}")


def targets(med, pairs, bound, idle, concs, idle_want):
    out = []

    def add(name, val, limit, cmp, basis="", note=""):
        ok = None if val is None else \
            (val <= limit if cmp == "<=" else val >= limit)
        out.append({"target": name, "value": rnd(val), "limit": limit,
                    "pass": ok, "basis": basis, "note": note})

    def of_medians(metric, c, peer):
        return ratio(med.get(("cutoverd", c), {}).get(metric),
                     med.get((peer, c), {}).get(metric))

    for c in concs:
        for peer, limit in (("smtp-sink", 1.5), ("postfix", 0.25)):
            p = pairs[("cpu_s_per_1000", c, peer)]
            add(f"c={c} server CPU/1000 sessions, cutoverd/{peer} <= "
                f"{limit}", p["median"], limit, "<=",
                paired_basis(p, of_medians("cpu_s_per_1000", c, peer)))
    for c in concs:
        p = pairs[("sessions_per_s", c, "smtp-sink")]
        note = ""
        why = {bound.get((s, c)) for s in ("cutoverd", "smtp-sink")}
        if why & {"client-bound", "saturated"}:
            cap = pairs[("capacity", c, "smtp-sink")]["median"]
            kind = "client-bound" if "client-bound" in why else \
                "client's CPU saturated"
            note = (f"{kind}: this compares smtp-source's speed; "
                    f"derived capacity ratio {fmt(cap, '.3f')}")
        add(f"c={c} sessions/s, cutoverd/smtp-sink >= 0.9", p["median"],
            0.9, ">=", paired_basis(
                p, of_medians("sessions_per_s", c, "smtp-sink")), note)
    cut = idle.get("cutoverd", {})
    note = "" if (cut.get("held") or 0) >= IDLE_TARGET_HELD else \
        f"the target is defined at {IDLE_TARGET_HELD}"
    add(f"idle Pss KiB/connection <= 8 with {cut.get('held')} of "
        f"{idle_want} held",
        cut.get("kib_per_conn") if cut.get("ok") else None, 8.0, "<=",
        "", note)
    return out


# ------------------------------------------------------------- printing ---

def print_medians(med, idle, concs, meta):
    print(f"== medians of {meta.get('rounds')} round(s) of "
          f"{meta.get('sessions')} sessions per server; the last two "
          f"columns are ratios of medians, cutoverd / other ==")
    hdr = (f"{'metric':42}{'smtp-sink':>11}{'cutoverd':>11}{'postfix':>11}"
           f"{'cut/sink':>10}{'cut/pfx':>10}")
    print(hdr)
    print("-" * len(hdr))
    for metric, label, spec, has_ratio in METRICS:
        for c in concs:
            sink, cut, pf = (med.get((s, c), {}).get(metric)
                             for s in SERVERS)
            r1 = fmt(ratio(cut, sink), ".3f") if has_ratio else ""
            r2 = fmt(ratio(cut, pf), ".3f") if has_ratio else ""
            print(f"{label + f' (c={c})':42}{fmt(sink, spec):>11}"
                  f"{fmt(cut, spec):>11}{fmt(pf, spec):>11}{r1:>10}{r2:>10}")
    sink, cut, pf = (idle.get(s, {}).get("kib_per_conn")
                     if idle.get(s, {}).get("ok") else None for s in SERVERS)
    print(f"{'Pss KiB / idle connection':42}{fmt(sink, '.2f'):>11}"
          f"{fmt(cut, '.2f'):>11}{fmt(pf, '.2f'):>11}"
          f"{fmt(ratio(cut, sink), '.3f'):>10}"
          f"{fmt(ratio(cut, pf), '.3f'):>10}")
    held = "  ".join(f"{s}: {idle[s]['held']}" for s in SERVERS if s in idle)
    print(f"{'  (idle connections held)':42}{held}")


def print_paired(med, pairs, concs):
    print("== paired ratios: cutoverd / other within the same round; median "
          "(min-max) over the rounds, ratio of medians beside it ==")
    for metric, label, _, _ in METRICS:
        if metric not in PAIRED:
            continue
        for c in concs:
            for peer in PEERS:
                p = pairs[(metric, c, peer)]
                om = ratio(med.get(("cutoverd", c), {}).get(metric),
                           med.get((peer, c), {}).get(metric))
                rounds = " ".join(f"{q:.3f}" for _, q in p["per_round"])
                print(f"  {label + f' (c={c})':42} cut/{SHORT[peer]:4} "
                      f"{fmt(p['median'], '.3f'):>6} "
                      f"({fmt(p['min'], '.3f')}-{fmt(p['max'], '.3f')})"
                      f"  of medians {fmt(om, '.3f'):>6}  rounds: {rounds}")


VERDICT = {"client-bound": "CLIENT-BOUND", "saturated": "CLIENT CPU SATURATED",
           "no": "not client-bound", None: "n/a"}


def print_client_bound(med, bound, concs):
    print(f"== client-bound? (median client CPU >= {CLIENT_BOUND:.0%} of the "
          f"wall time: sessions/s is then smtp-source's speed) ==")
    print("   medians of CPU / wall time; \"busy\" adds the other work on "
          "the same CPU (pinned runs only)")
    for c in concs:
        parts = []
        for s in SERVERS:
            m = med.get((s, c), {})
            parts.append(
                f"{s:9} {VERDICT[bound.get((s, c))]:20} client "
                f"{fmt(m.get('client_util'), '.0%'):>4} (busy "
                f"{fmt(m.get('client_busy'), '.0%'):>4}), server "
                f"{fmt(m.get('server_util'), '.0%'):>4} (busy "
                f"{fmt(m.get('server_busy'), '.0%'):>4}); runs: "
                f"{m.get('client_bound_runs', 0)}/{m.get('rounds', 0)} "
                f"client-bound, {m.get('client_saturated_runs', 0)} "
                f"saturated")
        print(f"  c={c:<4} " + "\n         ".join(parts))
        print_verdict(c, bound)


def print_verdict(c, bound):
    pair = ("smtp-sink", "cutoverd")
    hit = [s for s in pair if bound.get((s, c)) == "client-bound"]
    sat = [s for s in pair if bound.get((s, c)) == "saturated"]
    if hit:
        print(f"         => c={c} is client-bound for {' and '.join(hit)}:"
              f" sessions/s measures the client there;")
    if sat:
        print(f"         => c={c}: for {' and '.join(sat)} the client's CPU "
              f"was saturated by smtp-source plus other work:\n"
              f"            sessions/s measures that contention there;")
    if hit or sat:
        print("            compare server CPU per 1000 sessions and the "
              "derived capacity instead.")
    else:
        print(f"         => c={c} is not client-bound for cutoverd and "
              f"smtp-sink: sessions/s measures the servers.")


def print_targets(tg):
    print("== targets (every ratio is the paired median over the rounds) ==")
    for t in tg:
        word = {True: "PASS", False: "FAIL", None: "N/A "}[t["pass"]]
        extra = "; ".join(x for x in (t["basis"], t["note"]) if x)
        print(f"  {word}  {t['target']}: {fmt(t['value'], '.5g')}"
              + (f"\n        ({extra})" if extra else ""))


def print_broken(broken):
    if not broken:
        return
    print()
    print(f"== {len(broken)} BROKEN measurement(s): not counted ==")
    for r in broken:
        print(f"  {r['kind']} {r['server']} "
              f"c={r.get('conc', '-')} round {r.get('round', '-')}: "
              + "; ".join(r["problems"]))


# ------------------------------------------------------------------ JSON ---

def result_json(meta, records, med, pairs, bound, idle, concs, tg, broken):
    ratios = {}
    for c in concs:
        for metric, _, _, has_ratio in METRICS:
            if not has_ratio:
                continue
            cut = med.get(("cutoverd", c), {}).get(metric)
            for peer in PEERS:
                ratios[f"c{c}.{metric}.cutoverd/{peer}"] = rnd(ratio(
                    cut, med.get((peer, c), {}).get(metric)))
    cut = idle.get("cutoverd", {}).get("kib_per_conn")
    for peer in PEERS:
        ratios[f"idle.kib_per_conn.cutoverd/{peer}"] = rnd(ratio(
            cut, idle.get(peer, {}).get("kib_per_conn")))
    return {
        "meta": meta, "runs": records,
        "medians": [{"server": s, "conc": c,
                     **{k: rnd(v) if isinstance(v, float) else v
                        for k, v in v_.items()}}
                    for (s, c), v_ in sorted(med.items())],
        "ratios_of_medians": ratios,
        "paired_ratios": [
            {"metric": m, "conc": c, "cutoverd_over": peer,
             "per_round": [{"round": r, "ratio": rnd(q)}
                           for r, q in p["per_round"]],
             "median": rnd(p["median"]), "min": rnd(p["min"]),
             "max": rnd(p["max"])}
            for (m, c, peer), p in sorted(pairs.items())],
        "client_bound": [{"server": s, "conc": c, "client_bound": b}
                         for (s, c), b in sorted(bound.items())],
        "client_bound_threshold": CLIENT_BOUND,
        "idle": idle, "targets": tg, "broken": len(broken)}


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
    pairs = paired(records, concs)
    bound = client_bound(med, concs)
    idle = idle_results(records)
    tg = targets(med, pairs, bound, idle, concs, meta.get("idle_connections"))
    broken = [r for r in records if not r["ok"]]
    for show in (lambda: print_medians(med, idle, concs, meta),
                 lambda: print_paired(med, pairs, concs),
                 lambda: print_client_bound(med, bound, concs),
                 lambda: print_targets(tg)):
        print()
        show()
    print_broken(broken)
    result = result_json(meta, records, med, pairs, bound, idle, concs, tg,
                         broken)
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
