#!/usr/bin/env bash
# Relay benchmark (issue 3): cutoverd relaying as a proxy (example.com live,
# relay = "[127.0.0.1]:SINKPORT", relay_tls = none) against a private
# Postfix relaying the same load with its normal queue (relayhost =
# [127.0.0.1]:SINKPORT, relay_domains = example.com), both into the same
# smtp-sink, on loopback, in one run.  Also run as bench.sh --relay.
#
# Load: smtp-source, one message of SIZE payload bytes (default 10240) and
# one recipient per session, MESSAGES messages per run at concurrency 20 and
# 100, in ROUNDS paired rounds (the two servers back to back in a seeded
# random order) after a warm-up each.  A message counts when smtp-sink has
# it (its -c counter), not when the client got its 250: Postfix says 250
# when the message is queued.  Server CPU is the whole process tree's
# (cutoverd; Postfix master and all its children) per 1000 messages.
# Latency: a Python client runs sequential transactions through cutoverd and
# directly to smtp-sink, timing each from its final dot to the 250; the
# difference of the p99s is the latency cutoverd adds.
#
# Pinning, as in the limbo benchmark (bench_common.sh): servers on the first
# allowed CPU, client on the second; smtp-sink, the next hop of both, on
# the third CPU, or with the client when there are only two.  Measurement is
# in relay_lib.py (built on bench_lib.py), the report in relay_report.py
# (built on bench_report.py).  Needs root (a private Postfix, smtp-sink -u).
#
# Usage: bash tests/bench/relay_bench.sh [--quick] [--out FILE] [--keep]
#        [--cutoverd PATH] [--messages N] [--rounds N] [--size N]
#        [--latency N] [--seed N]
# See tests/bench/README.md, "Relay benchmark", for what the numbers mean.
set -euo pipefail

CMDLINE="$(printf '%q ' "$0" "$@")"
CMDLINE=${CMDLINE% }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIB="$HERE/bench_lib.py"
RLIB="$HERE/relay_lib.py"
REPORT="$HERE/relay_report.py"
BENCH_NAME=relay_bench.sh
# shellcheck source=bench_common.sh
. "$HERE/bench_common.sh"

MESSAGES=10000
ROUNDS=5
SIZE=10240
LATENCY=2000
SEED=$(((RANDOM << 15) | RANDOM))
CONCS="20 100"
WARMUP=1000
LOAD_TIMEOUT=600
PF_DEST_CONC=20
OUT=""
KEEP=0
CUTOVERD_BIN=${CUTOVERD:-}

usage() {
	sed -n '/^# Usage:/,/^# See /p' "$0" | sed 's/^# \{0,1\}//'
	exit "$1"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MESSAGES=1000 ROUNDS=1 WARMUP=200 LATENCY=300 LOAD_TIMEOUT=120 ;;
	--out) OUT=${2:?--out needs a file}; shift ;;
	--keep) KEEP=1 ;;
	--cutoverd) CUTOVERD_BIN=${2:?--cutoverd needs a path}; shift ;;
	--messages) MESSAGES=${2:?}; shift ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--size) SIZE=${2:?}; shift ;;
	--latency) LATENCY=${2:?}; shift ;;
	--seed) SEED=${2:?}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "relay_bench.sh: unknown argument: $1" >&2; usage 2 ;;
	esac
	shift
done

for n in "$MESSAGES" "$ROUNDS" "$SIZE" "$LATENCY"; do
	case "$n" in
	'' | *[!0-9]* | 0) die "--messages, --rounds, --size and --latency take a positive number, not '$n'" ;;
	esac
done
case "$SEED" in
'' | *[!0-9]*) die "--seed takes a number, not '$SEED'" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root (a private Postfix, smtp-sink -u)"
for t in "$SMTP_SOURCE" "$SMTP_SINK" postfix postconf python3 taskset; do
	command -v "$t" >/dev/null || die "missing $t (apt-get install postfix python3)"
done
CUTOVERD_BIN=$(find_cutoverd) ||
	die "cutoverd not found: build it (cmake --build BUILD --target cutoverd) and pass --cutoverd PATH or set CUTOVERD"
[ -n "$OUT" ] || OUT="/tmp/cutover-relay-bench-$(date -u +%Y%m%dT%H%M%SZ).json"
ulimit -Sn "$(ulimit -Hn)"

setup_pinning
if [ "$SERVER_CPU" -ge 0 ]; then
	PINNING="servers (cutoverd, the whole Postfix instance) on CPU $SERVER_CPU, client (smtp-source, latency client) on CPU $CLIENT_CPU, smtp-sink (next hop of both) on CPU $SINK_CPU (taskset)"
else
	PINNING="none: only $NCPUS CPU allowed, so servers, sink and client share it"
fi

TMP=$(mktemp -d /tmp/cutover-relay-bench.XXXXXX)
chmod 755 "$TMP"   # Postfix daemons (user postfix) traverse it
RESULTS="$TMP/results.jsonl"
SINK_COUNT="$TMP/sink.count"

# ---------------------------------------------------------------- servers

write_cutoverd_conf() {
	mkdir -p "$TMP/spill"
	cat >"$TMP/cutoverd.conf" <<EOF
listen      = { "127.0.0.1:$CUT_PORT" }
hostname    = "bench-cutoverd.test"
attempt_log = "$TMP/attempts.jsonl"
limits {
    max_connections = 30000
    per_ip          = 30000
    backlog         = 4096
}
relay {
    idle_time           = 10
    per_hop_connections = 200
    spill_dir           = "$TMP/spill"
}
# The SPF/DKIM/DMARC checks are measured by the milter benchmark; here the
# relay path alone is compared with Postfix relaying (which checks nothing).
auth {
    enabled = false
}
domain "example.com" {
    state     = live
    relay     = "[127.0.0.1]:$SINK_PORT"
    relay_tls = none
}
EOF
	check_cutoverd_conf
}

# The private Postfix (bench_common.sh) as a relay: example.com goes to the
# sink through the queue.  Tuned fairly: no DNS (relayhost in brackets,
# native host lookup), no TLS, no header/body checks, the process limit of
# the limbo benchmark, connection caching (on demand, the default, plus
# for the relayhost).  The destination concurrency stays at Postfix's
# default of 20 (PF_DEST_CONC): 100 was tried and cost more CPU per message
# (more smtp processes) without delivering faster on one CPU.  cutoverd
# needs one upstream per client transaction in flight (it is a proxy), so
# its per_hop_connections is 200, above the highest client concurrency.
write_postfix_conf() {
	postfix_dirs
	{
		postfix_main_common
		cat <<EOF
relayhost = [127.0.0.1]:$SINK_PORT
relay_domains = example.com
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connection_cache_on_demand = yes
smtp_connection_cache_destinations = [127.0.0.1]:$SINK_PORT
default_destination_concurrency_limit = $PF_DEST_CONC
EOF
	} >"$PF_DIR/etc/main.cf"
	{
		postfix_master_common
		cat <<EOF
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
showq     unix  n - n - - showq
EOF
	} >"$PF_DIR/etc/master.cf"
}

start_relay_sink() {
	start_sink SINK_PIN "$SINK_COUNT" -c -m 4000
}

install_trap

# relay_load SERVER CONC ROUND SLOT MESSAGES [--warmup]
relay_load() {
	local s=$1 log="$TMP/attempts.jsonl" qdir=""
	if [ "$s" = postfix ]; then
		log="$PF_DIR/maillog" qdir="$PF_DIR/queue"
	fi
	HELPER_SCRIPT=$RLIB helper relay-load --name "$s" --pid "$(server_pid "$s")" \
		--port "$(server_port "$s")" --conc "$2" --round "$3" --slot "$4" \
		--messages "$5" --size "$SIZE" \
		--server-cpu "$SERVER_CPU" --client-cpu "$CLIENT_CPU" \
		--sink-cpu "$SINK_CPU" --sink-pid "$SINK_PID" --sink-count "$SINK_COUNT" \
		--timeout "$LOAD_TIMEOUT" --results "$RESULTS" --workdir "$TMP" \
		--smtp-source "$SMTP_SOURCE" --check "$s" --log "$log" \
		--queue-dir "$qdir" "${@:6}" || BROKEN=1
}

# latency SERVER ROUND
latency() {
	HELPER_SCRIPT=$RLIB helper latency --name "$1" --port "$(server_port "$1")" \
		--pid "$(server_pid "$1")" --sink-pid "$SINK_PID" \
		--count "$LATENCY" --size "$SIZE" --round "$2" --results "$RESULTS" || BROKEN=1
}

# ------------------------------------------------------------------- run

START=$(date +%s)
START_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "cutover relay benchmark"
echo "command:  $CMDLINE  (cwd $(pwd))"
echo "date:     $START_DATE"
echo "host:     $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cutoverd: $CUTOVERD_BIN ($(date -u -r "$CUTOVERD_BIN" +%Y-%m-%dT%H:%M:%SZ)), live, proxy to smtp-sink, per_hop_connections 200"
if ldd "$CUTOVERD_BIN" 2>/dev/null | grep -q -E 'libasan|libubsan'; then
	echo "WARNING:  cutoverd is a sanitizer build; its numbers mean nothing"
fi
echo "peers:    Postfix $(postconf -h mail_version) relayhost with its queue (destination concurrency $PF_DEST_CONC), next hop smtp-sink -c for both"
echo "plan:     $MESSAGES messages of $SIZE bytes (one recipient, one per session) per run at concurrency $CONCS,"
echo "          $ROUNDS paired round(s) of the two servers in a random order (seed $SEED; --seed $SEED repeats it),"
echo "          after a $WARMUP-message warm-up each; latency: $LATENCY transactions per round, cutoverd vs smtp-sink direct"
echo "pinning:  $PINNING"
echo

SINK_PORT=$(python3 "$LIB" freeport)
CUT_PORT=$(python3 "$LIB" freeport)
PF_PORT=$(python3 "$LIB" freeport)
start_relay_sink
write_cutoverd_conf
write_postfix_conf
start_cutoverd
start_postfix
BROKEN=0

echo "== relay load runs (a message is done when smtp-sink has it) =="
echo "   rR/K: round R, K-th in its shuffled order; N messages in wall s (to the last one at the sink), messages/s;"
echo "   server and client: CPU s, CPU s per 1000 messages, CPU % of wall;"
if [ "$SERVER_CPU" -ge 0 ]; then
	echo "   other: CPU s the rest of the machine took meanwhile on the server's CPU $SERVER_CPU, then on the client's CPU $CLIENT_CPU"
	[ "$SINK_CPU" != "$CLIENT_CPU" ] || echo "   (the client's CPU is also the sink's: its \"other\" includes smtp-sink)"
else
	echo "   other: CPU s the rest of the machine took meanwhile"
fi
slot=0
for s in cutoverd postfix; do
	slot=$((slot + 1))
	relay_load "$s" 20 0 "$slot" "$WARMUP" --warmup
done
# shellcheck disable=SC2086  # CONCS is a list of numbers
mapfile -t ORDERS < <(python3 "$LIB" orders --seed "$SEED" --rounds "$ROUNDS" --concs $CONCS --servers cutoverd postfix)
[ "${#ORDERS[@]}" -gt 0 ] || die "no run order from $LIB orders"
for line in "${ORDERS[@]}"; do
	read -r c r order <<<"$line"
	slot=0
	for s in $order; do
		slot=$((slot + 1))
		relay_load "$s" "$c" "$r" "$slot" "$MESSAGES"
	done
done

echo
echo "== latency: sequential transactions, 10 per session, final dot -> 250 at the client =="
mapfile -t LORDERS < <(python3 "$LIB" orders --seed "$SEED" --rounds "$ROUNDS" --concs 1 --servers cutoverd smtp-sink)
for line in "${LORDERS[@]}"; do
	read -r _ r order <<<"$line"
	for s in $order; do
		latency "$s" "$r"
	done
done

if ! kill -0 "$CUT_PID" 2>/dev/null; then
	echo "cutoverd died during the runs; its standard error:"
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
	"nproc=$(nproc)" "messages=$MESSAGES" "rounds=$ROUNDS" "size=$SIZE" \
	"latency_transactions=$LATENCY" "warmup=$WARMUP" "seed=$SEED" \
	"server_cpu=$SERVER_CPU" "client_cpu=$CLIENT_CPU" "sink_cpu=$SINK_CPU" \
	"postfix_destination_concurrency=$PF_DEST_CONC" "pinning=$PINNING" \
	"loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" || rc=$?
echo "total time: $(($(date +%s) - START)) s, load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$BROKEN" = 0 ] || rc=1
exit "$rc"
