#!/usr/bin/env python3
"""Report for tests/bench/milter_bench.sh (stdlib only).

  milter_report.py --results RUNS.jsonl --out RESULT.json
      --manifest CORPUS/manifest.json --verdicts NAME=FILE ... [key=value]

Reads the load records milter_lib.py appended (bench_lib's load format:
sessions = messages) and the verdicts each set-up stamped in the untimed
verdict run; prints medians, the cutover-milter / trio ratios per round,
the client-bound check, the verdict comparison and the targets, and writes
everything to one JSON file.  Medians come from bench_report.py (the limbo
report), so every benchmark reads its numbers the same way: a ratio is taken
within a round (the two set-ups ran back to back) and the median of the
per-round ratios decides PASS/FAIL.

Verdicts: per message (by Message-ID) the spf result for smtp.mailfrom,
the dkim results as "result:header.d" (sorted; none when unsigned) and the
dmarc result, from every Authentication-Results field with the benchmark's
authserv-id.  The two set-ups are compared field by field, and each is also
compared with what the corpus was built to produce (the manifest), so that
a difference says which side is right.
"""

import argparse
import json
import os
import sys

import bench_report as br

SETUPS = ("cutover-milter", "trio")
OURS, PEER = SETUPS
FLOOR = "postfix"
ALL = SETUPS + (FLOOR,)
TARGET_RATE = 2.0
FIELDS = ("spf", "dkim", "dmarc")

# key, label, format, ratio meaningful
METRICS = (
    ("sessions_per_s", "messages/s (queue empty again)", ".1f", True),
    ("accept_per_s", "messages/s answered 250 (client)", ".1f", True),
    ("cpu_s_per_1000", "set-up CPU s / 1000 messages", ".3f", True),
    ("capacity", "derived capacity, messages/CPU-s", ".1f", True),
    ("dns_cpu_s_per_1000", "DNS server CPU s / 1000 messages", ".4f", True),
    ("client_cpu_s_per_1000", "sender CPU s / 1000 messages", ".3f", False),
    ("client_util", "sender CPU / wall time", ".0%", False),
    ("client_busy", "sender's CPU busy (+ other) / wall", ".0%", False),
    ("server_util", "set-up CPU / wall time", ".0%", False),
    ("server_busy", "set-ups' CPU busy (+ other) / wall", ".0%", False),
)
PAIRED = ("sessions_per_s", "accept_per_s", "cpu_s_per_1000", "capacity",
          "check_cpu_s_per_1000")


def value(run, metric, floor=None):
    """One metric of one run; check_cpu_s_per_1000 is the set-up's CPU
    minus the floor's (Postfix alone) in the same round: what the checks
    cost, milters and policy server together."""
    if metric == "check_cpu_s_per_1000":
        return None if floor is None else \
            run["cpu_s_per_1000"] - floor["cpu_s_per_1000"]
    if metric == "accept_per_s":
        return run["sessions"] / run["accept_wall_s"]
    if metric == "dns_cpu_s_per_1000":
        return run["dns_cpu_s"] * 1000 / run["sessions"]
    return br.value(run, metric)


def medians(records):
    out = {}
    for r in br.measured(records):
        out.setdefault((r["server"], r["conc"]), []).append(r)
    med = {}
    for key, runs in out.items():
        med[key] = {m: br.median_or_none([value(r, m) for r in runs])
                    for m, _, _, _ in METRICS}
        med[key]["rounds"] = len(runs)
        for name in runs[0].get("cpu_by_root_s", {}):
            med[key]["cpu_per_1000." + name] = br.median_or_none(
                [r["cpu_by_root_s"].get(name, 0) * 1000 / r["sessions"]
                 for r in runs])
    return med


def paired(records, concs):
    rounds = {}
    for r in br.measured(records):
        rounds.setdefault((r["conc"], r["round"]), {})[r["server"]] = r
    out = {}
    for metric in PAIRED:
        for c in concs:
            per = []
            for (conc, rno), runs in sorted(rounds.items()):
                if conc == c and OURS in runs and PEER in runs:
                    fl = runs.get(FLOOR)
                    q = br.ratio(value(runs[OURS], metric, fl),
                                 value(runs[PEER], metric, fl))
                    if q is not None:
                        per.append((rno, q))
            vals = [q for _, q in per]
            out[(metric, c)] = {"per_round": per,
                                "median": br.median_or_none(vals),
                                "min": min(vals) if vals else None,
                                "max": max(vals) if vals else None}
    return out


# ------------------------------------------------------------- verdicts ---

def compare_verdicts(manifest, verdicts):
    """-> {"n", "equal", "diffs": {(field, ours, peer): [ids]},
    "right": {setup: {field: n matching the manifest}}, "missing"}."""
    diffs, right, missing, equal, dis = {}, {}, {}, 0, {}
    for s in SETUPS:
        right[s] = {f: 0 for f in FIELDS}
        missing[s] = 0
    for e in manifest:
        mid = e["message_id"]
        got = {s: verdicts.get(s, {}).get(mid) for s in SETUPS}
        for s in SETUPS:
            if got[s] is None:
                missing[s] += 1
                continue
            for f in FIELDS:
                right[s][f] += got[s][f] == e["want"][f]
        if None in got.values():
            continue
        dk = (got[OURS].get("dmarc_dis"), got[PEER].get("dmarc_dis"))
        if dk[0] != dk[1]:
            dis[dk] = dis.get(dk, 0) + 1
        same = True
        for f in FIELDS:
            a, b = got[OURS][f], got[PEER][f]
            if a != b:
                same = False
                diffs.setdefault((f, a, b, e["want"][f]), []).append(mid)
        equal += same
    return {"n": len(manifest), "equal": equal, "diffs": diffs,
            "right": right, "missing": missing, "dis": dis}


def print_verdicts(cmp_):
    n = cmp_["n"]
    print(f"== verdicts: Authentication-Results stamped on the {n} delivered "
          f"messages of the verdict run ==")
    print(f"  {'field':6}{'right (as built)':>22}")
    for f in FIELDS:
        print(f"  {f:6}" + "".join(
            f"  {s} {cmp_['right'][s][f]}/{n}" for s in SETUPS))
    for s in SETUPS:
        if cmp_["missing"][s]:
            print(f"  {s}: {cmp_['missing'][s]} messages missing or "
                  f"without a Message-ID")
    print(f"  equal verdicts (spf, dkim and dmarc) in both set-ups: "
          f"{cmp_['equal']}/{n}")
    for (f, a, b, want), ids in sorted(cmp_["diffs"].items()):
        print(f"  DIFF {f}: {OURS} {a!r}, {PEER} {b!r}, as built {want!r}: "
              f"{len(ids)} messages, e.g. {ids[0]}")
    for (a, b), n in sorted(cmp_["dis"].items()):
        print(f"  note: dmarc disposition comment \"dis=\" {OURS} {a!r}, "
              f"{PEER} {b!r}: {n} messages (a comment, not a verdict: "
              f"both set-ups run stamp-only)")


# ---------------------------------------------------------------- print ---

def print_medians(med, concs, meta):
    print(f"== medians of {meta.get('rounds')} round(s) of "
          f"{meta.get('messages')} messages per set-up; {FLOOR}: no milter, "
          f"no policy server (the floor); last column: ratio of medians, "
          f"{OURS} / {PEER} ==")
    hdr = f"{'metric':46}{OURS:>16}{PEER:>10}{FLOOR:>10}{'ratio':>9}"
    print(hdr)
    print("-" * len(hdr))
    for metric, label, spec, has_ratio in METRICS:
        for c in concs:
            a, b, fl = (med.get((s, c), {}).get(metric) for s in ALL)
            r = br.fmt(br.ratio(a, b), ".3f") if has_ratio else ""
            print(f"{label + f' (c={c})':46}{br.fmt(a, spec):>16}"
                  f"{br.fmt(b, spec):>10}{br.fmt(fl, spec):>10}{r:>9}")
    print("  CPU s / 1000 messages by process tree (Postfix's includes the "
          "spawned policyd-spf):")
    for c in concs:
        for s in ALL:
            m = med.get((s, c), {})
            parts = [f"{k.split('.', 1)[1]} {v:.3f}" for k, v in
                     sorted(m.items()) if k.startswith("cpu_per_1000.")
                     and v is not None]
            print(f"    c={c:<3} {s:15} " + ", ".join(parts))


def print_paired(pairs, concs):
    print(f"== paired ratios {OURS} / {PEER} within a round: median "
          f"(min-max), every round ==")
    labels = {m: lab for m, lab, _, _ in METRICS}
    labels["check_cpu_s_per_1000"] = "checks' CPU s / 1000 (set-up - postfix)"
    for metric in PAIRED:
        for c in concs:
            p = pairs[(metric, c)]
            rounds = " ".join(f"{q:.3f}" for _, q in p["per_round"])
            print(f"  {labels[metric] + f' (c={c})':46} "
                  f"{br.fmt(p['median'], '.3f'):>6} "
                  f"({br.fmt(p['min'], '.3f')}-{br.fmt(p['max'], '.3f')})"
                  f"  rounds: {rounds}")


def print_client_bound(med, concs):
    print(f"== client-bound? (median sender CPU >= {br.CLIENT_BOUND:.0%} of "
          f"the wall time: messages/s is then the sender's speed) ==")
    for c in concs:
        for s in ALL:
            m = med.get((s, c), {})
            util, busy = m.get("client_util"), m.get("client_busy")
            word = "n/a" if util is None else (
                "CLIENT-BOUND" if util >= br.CLIENT_BOUND else
                "CLIENT CPU SATURATED" if (busy or 0) >= br.CLIENT_BOUND
                else "not client-bound")
            print(f"  c={c:<3} {s:15} {word:21} sender "
                  f"{br.fmt(util, '.0%'):>4} (busy {br.fmt(busy, '.0%'):>4})"
                  f", set-up {br.fmt(m.get('server_util'), '.0%'):>4} (busy "
                  f"{br.fmt(m.get('server_busy'), '.0%'):>4})")


def targets(pairs, concs, cmp_):
    out = []
    for c in concs:
        p = pairs[("sessions_per_s", c)]
        v = p["median"]
        out.append({"target": f"c={c} messages/s, {OURS}/{PEER} >= "
                    f"{TARGET_RATE}", "value": br.rnd(v), "limit": TARGET_RATE,
                    "pass": None if v is None else v >= TARGET_RATE,
                    "basis": f"paired median of {len(p['per_round'])} "
                    f"round(s), min-max {br.fmt(p['min'], '.3f')}-"
                    f"{br.fmt(p['max'], '.3f')}", "note": ""})
    nd = sum(len(v) for v in cmp_["diffs"].values())
    out.append({"target": "equal verdicts in both set-ups",
                "value": cmp_["equal"], "limit": cmp_["n"],
                "pass": cmp_["equal"] == cmp_["n"] and cmp_["n"] > 0,
                "basis": f"{cmp_['equal']}/{cmp_['n']} messages",
                "note": f"{nd} field differences, listed above" if nd
                else ""})
    return out


def load_verdicts(specs):
    out = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        try:
            with open(path) as f:
                out[name] = json.load(f)
        except OSError:
            out[name] = {}
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--verdicts", action="append", default=[])
    p.add_argument("meta", nargs="*", help="key=value facts about the run")
    args = p.parse_args()
    with open(args.results) as f:
        records = [json.loads(line) for line in f if line.strip()]
    with open(args.manifest) as f:
        manifest = json.load(f)
    meta = {}
    for kv in args.meta:
        key, _, val = kv.partition("=")
        meta[key] = int(val) if val.lstrip("-").isdigit() else val
    concs = sorted({r["conc"] for r in records if r["kind"] == "load"
                    and not r["warmup"]})
    med = medians(records)
    pairs = paired(records, concs)
    cmp_ = compare_verdicts(manifest, load_verdicts(args.verdicts))
    tg = targets(pairs, concs, cmp_)
    broken = [r for r in records if not r["ok"]]
    for show in (lambda: print_medians(med, concs, meta),
                 lambda: print_paired(pairs, concs),
                 lambda: print_client_bound(med, concs),
                 lambda: print_verdicts(cmp_),
                 lambda: br.print_targets(tg)):
        print()
        show()
    br.print_broken(broken)
    result = {
        "meta": meta, "runs": records,
        "medians": [{"server": s, "conc": c, **{k: br.rnd(v) if isinstance(
            v, float) else v for k, v in m.items()}}
            for (s, c), m in sorted(med.items())],
        "paired_ratios": [{"metric": m, "conc": c, "over": PEER,
                           "per_round": [{"round": r, "ratio": br.rnd(q)}
                                         for r, q in p_["per_round"]],
                           "median": br.rnd(p_["median"]),
                           "min": br.rnd(p_["min"]), "max": br.rnd(p_["max"])}
                          for (m, c), p_ in sorted(pairs.items())],
        "verdicts": {"n": cmp_["n"], "equal": cmp_["equal"],
                     "right": cmp_["right"], "missing": cmp_["missing"],
                     "differences": [{"field": f, OURS: a, PEER: b,
                                      "as_built": w, "count": len(ids),
                                      "message_ids": ids}
                                     for (f, a, b, w), ids in
                                     sorted(cmp_["diffs"].items())],
                     "dmarc_dis_differences": [
                         {OURS: a, PEER: b, "count": n}
                         for (a, b), n in sorted(cmp_["dis"].items())]},
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
