#!/usr/bin/env bash
# Benchmark: cutoverd against smtp-sink (the floor: an SMTP server with no
# logic) and a fairly tuned private Postfix smtpd, all on loopback, in one run.
#
# Each server answers the same dialogue: 220, HELO, MAIL, RCPT to
# rcpt@example.com -> 451 (cutoverd: limbo; Postfix: access map DEFER;
# smtp-sink: -r RCPT with the same reply text), QUIT.  smtp-source drives
# SESSIONS sessions at concurrency 50 and 200, in paired rounds: for each
# concurrency, ROUNDS (default 5) rounds in which the three servers run back
# to back, in an order shuffled per round by a printed seed (--seed repeats
# it).  Ratios are taken per round and their median decides PASS/FAIL.
# Then each server is restarted fresh and holds idle connections for the
# memory figure.
#
# Pinning: with two or more CPUs, every server (cutoverd, smtp-sink, and the
# whole Postfix instance: postfix start, so master and all its children) is
# started with taskset on the first allowed CPU, and the client (the Python
# helper and so smtp-source) runs on the second, the same for all three
# servers.  On one CPU nothing is pinned and the header says so.
#
# Measurement is in bench_lib.py and the report in bench_report.py; this
# script owns the processes (through bench_common.sh, shared with the relay
# benchmark relay_bench.sh, which --relay runs): everything it starts is
# stopped by PID in the trap and the temporary directory is removed.  Needs
# root (ulimit, Postfix, smtp-sink -u).  Only 127.0.0.0/8 is used; the system Postfix instance is
# never touched (our instance has its own config, queue and data directories).
#
# Usage: bash tests/bench/bench.sh [--quick] [--out FILE] [--keep]
#        [--cutoverd PATH] [--sessions N] [--rounds N] [--idle N] [--seed N]
#        bash tests/bench/bench.sh --relay [relay_bench.sh options]
# See tests/bench/README.md for what the numbers mean.
set -euo pipefail

CMDLINE="$(printf '%q ' "$0" "$@")"
CMDLINE=${CMDLINE% }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[ "${1:-}" != --relay ] || exec bash "$HERE/relay_bench.sh" "${@:2}"
LIB="$HERE/bench_lib.py"
REPORT="$HERE/bench_report.py"
BENCH_NAME=bench.sh
# shellcheck source=bench_common.sh
. "$HERE/bench_common.sh"
REPLY="451 4.3.2 example.com is moving, please retry later"

SESSIONS=20000
ROUNDS=5
SEED=$(((RANDOM << 15) | RANDOM))
IDLE=10000
CONCS="50 200"
WARMUP=1000
LOAD_TIMEOUT=180
PF_IDLE_CAP=500
OUT=""
KEEP=0
CUTOVERD_BIN=${CUTOVERD:-}

usage() {
	sed -n '/^# Usage:/,/^# See /p' "$0" | sed 's/^# \{0,1\}//'
	exit "$1"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) SESSIONS=2000 ROUNDS=1 IDLE=1000 WARMUP=200 LOAD_TIMEOUT=60 ;;
	--out) OUT=${2:?--out needs a file}; shift ;;
	--keep) KEEP=1 ;;
	--cutoverd) CUTOVERD_BIN=${2:?--cutoverd needs a path}; shift ;;
	--sessions) SESSIONS=${2:?}; shift ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--idle) IDLE=${2:?}; shift ;;
	--seed) SEED=${2:?}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "bench.sh: unknown argument: $1" >&2; usage 2 ;;
	esac
	shift
done

for n in "$SESSIONS" "$ROUNDS" "$IDLE"; do
	case "$n" in
	'' | *[!0-9]* | 0) die "--sessions, --rounds and --idle take a positive number, not '$n'" ;;
	esac
done
case "$SEED" in
'' | *[!0-9]*) die "--seed takes a number, not '$SEED'" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root (ulimit -n, a private Postfix, smtp-sink -u)"
for t in "$SMTP_SOURCE" "$SMTP_SINK" postfix postmap postconf python3 taskset; do
	command -v "$t" >/dev/null || die "missing $t (apt-get install postfix python3)"
done
CUTOVERD_BIN=$(find_cutoverd) ||
	die "cutoverd not found: build it (cmake --build BUILD --target cutoverd) and pass --cutoverd PATH or set CUTOVERD"
[ -n "$OUT" ] || OUT="/tmp/cutover-bench-$(date -u +%Y%m%dT%H%M%SZ).json"
PF_IDLE=$IDLE
[ "$PF_IDLE" -le "$PF_IDLE_CAP" ] || PF_IDLE=$PF_IDLE_CAP
[ "$PF_IDLE" -le "$PF_PROCESS_LIMIT" ] || PF_IDLE=$PF_PROCESS_LIMIT

# IDLE held connections plus the servers' own descriptors: raise the hard
# limit where we may (CAP_SYS_RESOURCE), then the soft limit to the hard one.
ulimit -Hn 200000 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
[ "$(ulimit -Sn)" -ge $((IDLE + 1000)) ] ||
	die "open-file limit $(ulimit -Sn) is too small for $IDLE idle connections"

# Servers on the first allowed CPU, the client on the second.
setup_pinning
if [ "$SERVER_CPU" -ge 0 ]; then
	PINNING="servers (cutoverd, smtp-sink, the whole Postfix instance) on CPU $SERVER_CPU, client (smtp-source) on CPU $CLIENT_CPU (taskset)"
else
	PINNING="none: only $NCPUS CPU allowed, so servers and client share it"
fi

TMP=$(mktemp -d /tmp/cutover-bench.XXXXXX)
chmod 755 "$TMP"   # Postfix daemons (user postfix) traverse it
RESULTS="$TMP/results.jsonl"

# ---------------------------------------------------------------- helpers

start_limbo_sink() {
	start_sink SRV_PIN "$TMP/sink.out" -r RCPT -b "$REPLY" -m $((IDLE + 1000))
}

write_cutoverd_conf() {
	cat >"$TMP/cutoverd.conf" <<EOF
listen      = { "127.0.0.1:$CUT_PORT" }
hostname    = "bench-cutoverd.test"
attempt_log = "$TMP/attempts.jsonl"
limits {
    max_connections = 30000
    per_ip          = 30000
    backlog         = 4096
}
domain "example.com" {
    state       = limbo
    defer_reply = "$REPLY"
    defer_at    = rcpt
}
EOF
	check_cutoverd_conf
}

# The private Postfix instance (bench_common.sh) with an access map that
# DEFERs example.com with 451.
write_postfix_conf() {
	postfix_dirs
	{
		postfix_main_common
		cat <<EOF
smtpd_relay_restrictions =
smtpd_recipient_restrictions = check_recipient_access hash:$PF_DIR/etc/access, reject_unauth_destination
access_map_defer_code = 451
EOF
	} >"$PF_DIR/etc/main.cf"
	postfix_master_common >"$PF_DIR/etc/master.cf"
	echo "example.com DEFER 4.3.2 moving" >"$PF_DIR/etc/access"
	postmap "$PF_DIR/etc/access"
}

install_trap

# load SERVER CONC ROUND SLOT SESSIONS [--warmup]
load() {
	local s=$1 check=none log=""
	case "$s" in
	cutoverd) check=cutoverd log="$TMP/attempts.jsonl" ;;
	postfix) check=postfix log="$PF_DIR/maillog" ;;
	esac
	helper load --name "$s" --pid "$(server_pid "$s")" --port "$(server_port "$s")" \
		--conc "$2" --round "$3" --slot "$4" --sessions "$5" \
		--server-cpu "$SERVER_CPU" --client-cpu "$CLIENT_CPU" \
		--timeout "$LOAD_TIMEOUT" --results "$RESULTS" --workdir "$TMP" \
		--smtp-source "$SMTP_SOURCE" --check "$check" --log "$log" \
		"${@:6}" || BROKEN=1
}

# ------------------------------------------------------------------- run

START=$(date +%s)
START_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "cutover benchmark"
echo "command:  $CMDLINE  (cwd $(pwd))"
echo "date:     $START_DATE"
echo "host:     $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cutoverd: $CUTOVERD_BIN ($(date -u -r "$CUTOVERD_BIN" +%Y-%m-%dT%H:%M:%SZ))"
if ldd "$CUTOVERD_BIN" 2>/dev/null | grep -q -E 'libasan|libubsan'; then
	echo "WARNING:  cutoverd is a sanitizer build; its numbers mean nothing"
fi
echo "peers:    Postfix $(postconf -h mail_version) smtpd (default_process_limit $PF_PROCESS_LIMIT, backlog $PF_PROCESS_LIMIT), smtp-sink (backlog 4096), client smtp-source"
echo "plan:     $SESSIONS sessions per run at concurrency $CONCS, $ROUNDS paired round(s) of the three servers"
echo "          in a random order per round (seed $SEED; --seed $SEED repeats it), after a $WARMUP-session warm-up each;"
echo "          idle connections: smtp-sink $IDLE, cutoverd $IDLE, postfix $PF_IDLE (one process each)"
echo "pinning:  $PINNING"
echo

SINK_PORT=$(python3 "$LIB" freeport)
CUT_PORT=$(python3 "$LIB" freeport)
PF_PORT=$(python3 "$LIB" freeport)
write_cutoverd_conf
write_postfix_conf
start_limbo_sink
start_cutoverd
start_postfix
BROKEN=0

echo "== load runs (smtp-source -A: a 451 at RCPT ends the session with QUIT) =="
echo "   rR/K: round R, K-th in its shuffled order; server and client: CPU s, CPU s per 1000 sessions, CPU % of wall;"
if [ "$SERVER_CPU" -ge 0 ]; then
	echo "   other: CPU s the rest of the machine took meanwhile on the server's CPU $SERVER_CPU, then on the client's CPU $CLIENT_CPU"
else
	echo "   other: CPU s the rest of the machine took meanwhile"
fi
slot=0
for s in smtp-sink cutoverd postfix; do
	slot=$((slot + 1))
	load "$s" 50 0 "$slot" "$WARMUP" --warmup
done
# shellcheck disable=SC2086  # CONCS is a list of numbers
mapfile -t ORDERS < <(python3 "$LIB" orders --seed "$SEED" --rounds "$ROUNDS" --concs $CONCS)
[ "${#ORDERS[@]}" -gt 0 ] || die "no run order from $LIB orders"
for line in "${ORDERS[@]}"; do
	read -r c r order <<<"$line"
	slot=0
	for s in $order; do
		slot=$((slot + 1))
		load "$s" "$c" "$r" "$slot" "$SESSIONS"
	done
done
if ! kill -0 "$CUT_PID" 2>/dev/null; then
	echo "cutoverd died during the load runs; its standard error:"
	tail -20 "$TMP/cutoverd.log"
	BROKEN=1
fi

echo
echo "== idle connections (each server restarted fresh; sources spread over 127.0.1.0/24) =="
stop_sink
stop_cutoverd
stop_postfix
start_limbo_sink
start_cutoverd
start_postfix
for s in smtp-sink cutoverd postfix; do
	n=$IDLE
	[ "$s" != postfix ] || n=$PF_IDLE
	helper idle --name "$s" --pid "$(server_pid "$s")" --port "$(server_port "$s")" \
		--count "$n" --timeout 120 --results "$RESULTS" || BROKEN=1
done

if ! kill -0 "$CUT_PID" 2>/dev/null; then
	echo "cutoverd is no longer running; its log:"
	tail -20 "$TMP/cutoverd.log"
	BROKEN=1
fi
if [ -s "$TMP/cutoverd.log" ]; then
	echo
	echo "cutoverd standard error (last 10 lines):"
	tail -10 "$TMP/cutoverd.log" | sed 's/^/  /'
fi

rc=0
python3 "$REPORT" --results "$RESULTS" --out "$OUT" \
	"command=$CMDLINE" "date=$START_DATE" "seconds=$(($(date +%s) - START))" \
	"cutoverd=$CUTOVERD_BIN" "postfix=$(postconf -h mail_version)" \
	"nproc=$(nproc)" "sessions=$SESSIONS" "rounds=$ROUNDS" \
	"idle_connections=$IDLE" "postfix_idle_connections=$PF_IDLE" \
	"warmup=$WARMUP" "seed=$SEED" "server_cpu=$SERVER_CPU" \
	"client_cpu=$CLIENT_CPU" "pinning=$PINNING" \
	"loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" || rc=$?
echo "total time: $(($(date +%s) - START)) s, load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$BROKEN" = 0 ] || rc=1
exit "$rc"
