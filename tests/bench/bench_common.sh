# shellcheck shell=bash disable=SC2034  # sourced; the callers use the variables
# Shared process handling for the benchmarks, sourced (not run) by bench.sh
# (limbo: cutoverd vs smtp-sink vs Postfix smtpd) and relay_bench.sh (live:
# cutoverd as a proxy vs Postfix with its queue, both into smtp-sink).
#
# One place for what both must do the same way, so that the two benchmarks
# cannot drift apart: finding cutoverd, the CPU pinning (servers on the first
# allowed CPU, client on the second), running the Python helper on the
# client's CPU, starting and stopping smtp-sink, cutoverd and a private
# Postfix instance by PID, and the EXIT trap that stops all of them and
# removes the temporary directory.  The caller sets BENCH_NAME, LIB, TMP,
# KEEP, CUTOVERD_BIN and the ports, and writes the configurations.
#
# Functions: die, find_cutoverd, setup_pinning, helper, stop_pid,
# start_sink/stop_sink, start_cutoverd/stop_cutoverd, postfix_main_common,
# postfix_master_common, start_postfix/stop_postfix, install_trap.
# Invariant: every process started here has its PID in SINK_PID, CUT_PID,
# PF_PID or HELPER_PID until it is stopped, so the trap can stop it.

SMTP_SOURCE=/usr/sbin/smtp-source
SMTP_SINK=/usr/sbin/smtp-sink
PF_PROCESS_LIMIT=1000
SINK_PID="" CUT_PID="" PF_PID="" PF_DIR="" HELPER_PID=""

die() {
	echo "${BENCH_NAME:-bench}: $*" >&2
	exit 1
}

# find_cutoverd: --cutoverd PATH / $CUTOVERD, then build/cutoverd,
# build/smtpd/cutoverd under the source tree ROOT.
find_cutoverd() {
	local c
	for c in "$CUTOVERD_BIN" "$ROOT/build/cutoverd" "$ROOT/build/smtpd/cutoverd"; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# setup_pinning: servers on the first allowed CPU, the client on the second;
# the sink (relay benchmark) on the third when there is one, else with the
# client.  One CPU: nothing is pinned.
setup_pinning() {
	local cpus
	read -r -a cpus <<<"$(python3 "$LIB" cpus)"
	if [ "${#cpus[@]}" -ge 2 ]; then
		SERVER_CPU=${cpus[0]} CLIENT_CPU=${cpus[1]} SINK_CPU=${cpus[1]}
		[ "${#cpus[@]}" -lt 3 ] || SINK_CPU=${cpus[2]}
		SRV_PIN=(taskset -c "$SERVER_CPU") CLI_PIN=(taskset -c "$CLIENT_CPU")
		SINK_PIN=(taskset -c "$SINK_CPU")
	else
		SERVER_CPU=-1 CLIENT_CPU=-1 SINK_CPU=-1 SRV_PIN=() CLI_PIN=() SINK_PIN=()
	fi
	NCPUS=${#cpus[@]}
}

# Run the Python helper in the background so that a signal reaches our trap
# at once; the helper kills its own smtp-source on SIGTERM.  It runs on the
# client's CPU, and so does the smtp-source it starts.  HELPER_SCRIPT
# defaults to bench_lib.py.
helper() {
	"${CLI_PIN[@]}" python3 "${HELPER_SCRIPT:-$LIB}" "$@" &
	HELPER_PID=$!
	local rc=0
	wait "$HELPER_PID" || rc=$?
	HELPER_PID=""
	return "$rc"
}

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# start_sink PIN_ARRAY_NAME STDOUT_FILE SINK_ARGS...: smtp-sink on
# 127.0.0.1:SINK_PORT with backlog 4096, stderr to $TMP/sink.log.
start_sink() {
	local -n pin=$1
	local out=$2
	shift 2
	"${pin[@]}" "$SMTP_SINK" -u nobody "$@" "127.0.0.1:$SINK_PORT" 4096 \
		>"$out" 2>>"$TMP/sink.log" &
	SINK_PID=$!
	helper wait-banner "$SINK_PORT" 10 || die "smtp-sink did not start: $(tail -3 "$TMP/sink.log")"
}

stop_sink() {
	[ -z "$SINK_PID" ] || stop_pid "$SINK_PID"
	SINK_PID=""
}

# check_cutoverd_conf: cutoverd -n on $TMP/cutoverd.conf.
check_cutoverd_conf() {
	"$CUTOVERD_BIN" -n -c "$TMP/cutoverd.conf" >"$TMP/cutoverd-check.log" 2>&1 ||
		die "cutoverd -n rejects the benchmark configuration: $(cat "$TMP/cutoverd-check.log")"
}

start_cutoverd() {
	"${SRV_PIN[@]}" "$CUTOVERD_BIN" -c "$TMP/cutoverd.conf" >>"$TMP/cutoverd.log" 2>&1 &
	CUT_PID=$!
	helper wait-banner "$CUT_PORT" 10 || die "cutoverd did not start: $(tail -5 "$TMP/cutoverd.log")"
}

stop_cutoverd() {
	[ -z "$CUT_PID" ] || stop_pid "$CUT_PID"
	CUT_PID=""
}

# A private Postfix instance: its own config_directory, queue_directory and
# data_directory under $TMP/postfix, smtpd on 127.0.0.1 only, no DNS, no
# chroot.  The listen backlog of a master(8) inet service is max(maxproc,
# default_process_limit): Postfix 3.7 has no separate knob, so it is 1000.
# postfix_main_common prints the main.cf lines both benchmarks share; the
# caller appends its own (restrictions, relaying) and writes master.cf from
# postfix_master_common plus its own services.
postfix_main_common() {
	cat <<EOF
compatibility_level = 3.6
config_directory = $PF_DIR/etc
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench-postfix.test
mydomain = bench.test
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
default_process_limit = $PF_PROCESS_LIMIT
smtpd_client_event_limit_exceptions = 127.0.0.0/8
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_peername_lookup = no
smtp_host_lookup = native
lmtp_host_lookup = native
smtp_dns_support_level = disabled
alias_maps =
alias_database =
biff = no
EOF
}

postfix_master_common() {
	cat <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
proxymap  unix  - - n - - proxymap
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

postfix_dirs() {
	PF_DIR="$TMP/postfix"
	mkdir -p "$PF_DIR/etc" "$PF_DIR/queue" "$PF_DIR/data"
	chown postfix "$PF_DIR/data"
}

start_postfix() {
	local pid=""
	"${SRV_PIN[@]}" postfix -c "$PF_DIR/etc" start >>"$TMP/postfix-start.log" 2>&1 ||
		die "postfix did not start: $(tail -5 "$TMP/postfix-start.log")"
	for _ in $(seq 100); do
		pid=$(tr -d ' \n' <"$PF_DIR/queue/pid/master.pid" 2>/dev/null || true)
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && break
		sleep 0.1
	done
	[ -n "$pid" ] || die "postfix master.pid missing"
	PF_PID=$pid
	helper wait-banner "$PF_PORT" 10 || die "postfix smtpd did not answer"
}

# Stop our instance (postfix -c DIR stop signals its master by PID), then
# make sure no process of its tree is left.
stop_postfix() {
	[ -n "$PF_PID" ] || [ -z "$PF_DIR" ] ||
		PF_PID=$(tr -d ' \n' <"$PF_DIR/queue/pid/master.pid" 2>/dev/null || true)
	[ -n "$PF_PID" ] || return 0
	local pids p
	pids=$(python3 "$LIB" tree "$PF_PID" 2>/dev/null || echo "$PF_PID")
	postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1 || true
	stop_pid "$PF_PID"
	for p in $pids; do
		case "$(readlink "/proc/$p/exe" 2>/dev/null)" in
		/usr/lib/postfix/*) stop_pid "$p" ;;
		esac
	done
	PF_PID=""
}

# shellcheck disable=SC2317  # reached through the trap
bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "$HELPER_PID" ] || stop_pid "$HELPER_PID"
	stop_sink
	stop_cutoverd
	stop_postfix
	if [ "$KEEP" = 1 ]; then
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}

install_trap() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

server_pid() {
	case "$1" in
	smtp-sink) echo "$SINK_PID" ;;
	cutoverd) echo "$CUT_PID" ;;
	postfix) echo "$PF_PID" ;;
	esac
}

server_port() {
	case "$1" in
	smtp-sink) echo "$SINK_PORT" ;;
	cutoverd) echo "$CUT_PORT" ;;
	postfix) echo "$PF_PORT" ;;
	esac
}
