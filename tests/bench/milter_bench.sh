#!/usr/bin/env bash
# Milter benchmark (issue 4): Postfix with cutover-milter against Postfix
# with the usual trio (opendkim verifying + opendmarc as milters, and
# policyd-spf, the Python SPF policy server, spawned by Postfix for
# check_policy_service), on the same DKIM-signed corpus, in one run, with
# every SPF record, DKIM key and DMARC record served by the same unbound on
# loopback.  Both set-ups stamp Authentication-Results with the same
# authserv-id and never reject (stamp only), so the delivered messages can
# be compared verdict by verdict.
#
# A third private Postfix without any milter or policy server ("postfix")
# runs in every round too: the floor, so that the checks' own cost
# (set-up minus floor, per round) can be read beside the totals.
#
# Load: a Python sender (milter_lib.py load; smtp-source cannot send given
# files) pushes the corpus, one message per session, with XCLIENT so that
# every checker sees the client 192.0.2.10 the SPF records speak about, at
# concurrency 10 and 50, in ROUNDS paired rounds (the two set-ups back to
# back in a seeded random order, bench_lib.py orders).  A message is done
# when Postfix's queue is empty again (discard transport).  Server CPU is
# the whole Postfix tree (smtpd, cleanup, qmgr, discard, spawned policyd-spf)
# plus each milter daemon, per 1000 messages.  Before the load, each set-up
# gets the corpus once more into a maildir (untimed, also the warm-up) and
# the Authentication-Results it stamped are compared.
#
# DNS for the trio: opendkim has Nameservers; opendmarc (libresolv) and
# policyd-spf (pyspf) only read /etc/resolv.conf, which cannot name a port.
# So unbound also listens on DNS_ADDR:53, and the trio's Postfix (master
# and so the spawned policyd-spf) and its two milters run in a private
# mount namespace (unshare -m) where a resolv.conf naming DNS_ADDR is
# bind-mounted over /etc/resolv.conf.  The system's file is not changed.
#
# Pinning as in the limbo benchmark (bench_common.sh): both set-ups (Postfix
# tree and milters) on the first allowed CPU, the sender on the second,
# unbound on the third or with the sender.  Installs opendmarc and
# postfix-policyd-spf-python with apt-get when missing (Debian then enables
# their own services; this script neither uses nor stops them).  Needs root.
#
# Usage: bash tests/bench/milter_bench.sh [--quick] [--out FILE] [--keep]
#        [--milter PATH] [--messages N] [--rounds N] [--seed N]
# See tests/bench/README.md, "Milter benchmark", for what the numbers mean.
set -euo pipefail

CMDLINE="$(printf '%q ' "$0" "$@")"
CMDLINE=${CMDLINE% }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIB="$HERE/bench_lib.py"
MLIB="$HERE/milter_lib.py"
REPORT="$HERE/milter_report.py"
BENCH_NAME=milter_bench.sh
# shellcheck source=bench_common.sh
. "$HERE/bench_common.sh"

MESSAGES=500
ROUNDS=5
SEED=$(((RANDOM << 15) | RANDOM))
CONCS="10 50"
WARM_CONC=50
LOAD_TIMEOUT=600
DNS_ADDR=127.0.53.1
AUTHSERV=bench.authserv.test
OUT=""
KEEP=0
MILTER_BIN=${CUTOVER_MILTER:-}
MIL_PID="" DK_PID="" DM_PID="" DNS_PID=""
PFM_DIR="" PFM_PID="" PFT_DIR="" PFT_PID="" PFB_DIR="" PFB_PID=""

usage() {
	sed -n '/^# Usage:/,/^# See /p' "$0" | sed 's/^# \{0,1\}//'
	exit "$1"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MESSAGES=100 ROUNDS=1 LOAD_TIMEOUT=300 ;;
	--out) OUT=${2:?--out needs a file}; shift ;;
	--keep) KEEP=1 ;;
	--milter) MILTER_BIN=${2:?--milter needs a path}; shift ;;
	--messages) MESSAGES=${2:?}; shift ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--seed) SEED=${2:?}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "milter_bench.sh: unknown argument: $1" >&2; usage 2 ;;
	esac
	shift
done

for n in "$MESSAGES" "$ROUNDS"; do
	case "$n" in
	'' | *[!0-9]* | 0) die "--messages and --rounds take a positive number, not '$n'" ;;
	esac
done
case "$SEED" in
'' | *[!0-9]*) die "--seed takes a number, not '$SEED'" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root (apt-get, a private Postfix, unshare -m, port 53 on $DNS_ADDR)"

# The trio's packages: installed here when missing (not in contrib/setup.sh:
# only this benchmark needs them).
if ! command -v opendmarc >/dev/null || ! [ -x /usr/bin/policyd-spf ]; then
	echo "installing opendmarc and postfix-policyd-spf-python (apt-get)"
	apt_log=$(mktemp /tmp/milter-bench-apt.XXXXXX)
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		opendmarc postfix-policyd-spf-python >"$apt_log" 2>&1 ||
		die "apt-get install opendmarc postfix-policyd-spf-python failed (log: $apt_log): $(tail -3 "$apt_log")"
	rm -f "$apt_log"
fi
for t in postfix postconf python3 taskset unshare mount unbound opendkim opendmarc \
	miltertest opendkim-genkey openssl; do
	command -v "$t" >/dev/null || die "missing $t (contrib/setup.sh installs the rest)"
done
for c in "$MILTER_BIN" "$ROOT/build/cutover-milter"; do
	if [ -n "$c" ] && [ -x "$c" ]; then
		MILTER_BIN=$c
		break
	fi
done
{ [ -n "$MILTER_BIN" ] && [ -x "$MILTER_BIN" ]; } ||
	die "cutover-milter not found: build it (cmake --build BUILD --target cutover-milter) and pass --milter PATH or set CUTOVER_MILTER"
[ -n "$OUT" ] || OUT="/tmp/cutover-milter-bench-$(date -u +%Y%m%dT%H%M%SZ).json"
PSL=/usr/share/publicsuffix/public_suffix_list.dat
[ -r "$PSL" ] || die "missing $PSL (apt-get install publicsuffix)"

setup_pinning
if [ "$SERVER_CPU" -ge 0 ]; then
	PINNING="set-ups (Postfix tree, cutover-milter / opendkim, opendmarc, policyd-spf) on CPU $SERVER_CPU, sender on CPU $CLIENT_CPU, unbound on CPU $SINK_CPU (taskset)"
else
	PINNING="none: only $NCPUS CPU allowed, so set-ups, sender and DNS share it"
fi

TMP=$(mktemp -d /tmp/cutover-milter-bench.XXXXXX)
chmod 755 "$TMP"   # Postfix daemons and policyd-spf traverse it
RESULTS="$TMP/results.jsonl"
CORPUS="$TMP/corpus"

# ------------------------------------------------------------ processes

# Run a command in a private mount namespace with our resolv.conf bound
# over /etc/resolv.conf (the exec chain keeps the PID: taskset, unshare
# without --fork, sh -c exec).
# shellcheck disable=SC2016  # $0 and $@ are for the inner sh
NS_RUN=(unshare -m --propagation private -- sh -c
	'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$TMP/resolv.conf")

# shellcheck disable=SC2317  # reached through the trap
stop_var() {
	local -n pid=$1
	[ -z "$pid" ] || stop_pid "$pid"
	pid=""
}

# shellcheck disable=SC2317  # reached through the trap
stop_instance() {
	local -n dir=$1 ppid=$2
	[ -n "$dir" ] || return 0
	PF_DIR=$dir PF_PID=$ppid
	stop_postfix
	ppid=""
}

# shellcheck disable=SC2317  # reached through the trap
milter_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "$HELPER_PID" ] || stop_pid "$HELPER_PID"
	stop_instance PFM_DIR PFM_PID
	stop_instance PFT_DIR PFT_PID
	stop_instance PFB_DIR PFB_PID
	stop_var MIL_PID
	stop_var DK_PID
	stop_var DM_PID
	stop_var DNS_PID
	if [ "$KEEP" = 1 ]; then
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap milter_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_dns() {
	mkdir -p "$TMP/dns"
	python3 "$MLIB" dns-conf --records "$CORPUS/records.json" --dir "$TMP/dns" \
		--port "$DNS_PORT" --extra "$DNS_ADDR"
	"${SINK_PIN[@]}" unbound -d -c "$TMP/dns/unbound.conf" >"$TMP/dns/stderr" 2>&1 &
	DNS_PID=$!
	python3 "$MLIB" wait-dns "$DNS_PORT" 10 ||
		die "unbound did not start: $(tail -3 "$TMP/dns/stderr" "$TMP/dns/unbound.log" 2>/dev/null)"
	printf 'nameserver %s\noptions timeout:5 attempts:2\n' "$DNS_ADDR" >"$TMP/resolv.conf"
	chmod 644 "$TMP/resolv.conf"
}

# start_daemon VAR PORT LOG CMD...: a milter daemon in the foreground,
# pinned to the servers' CPU, its PID in VAR.
start_daemon() {
	local -n pid=$1
	local port=$2 log=$3 name=$1
	shift 3
	"${SRV_PIN[@]}" "$@" >"$log" 2>&1 &
	pid=$!
	python3 "$MLIB" wait-port "$port" 10 || die "$name did not listen on $port: $(tail -5 "$log")"
}

write_milter_confs() {
	cat >"$TMP/cutover-milter.conf" <<EOF
socket      = "inet:$MIL_PORT@127.0.0.1"
authserv_id = "$AUTHSERV"
resolver    = "$DNS_ADDR@53"
dns_timeout = 5
action {
    dmarc_reject = none
    temperror    = none
}
EOF
	"$MILTER_BIN" -n -c "$TMP/cutover-milter.conf" >"$TMP/milter-check.log" 2>&1 ||
		die "cutover-milter -n rejects the configuration: $(cat "$TMP/milter-check.log")"
	cat >"$TMP/opendkim.conf" <<EOF
Mode                v
Socket              inet:$DK_PORT@127.0.0.1
AuthservID          $AUTHSERV
Nameservers         $DNS_ADDR
Syslog              yes
Background          no
UMask               022
PidFile             $TMP/opendkim.pid
EOF
	cat >"$TMP/opendmarc.conf" <<EOF
Socket              inet:$DM_PORT@127.0.0.1
AuthservID          $AUTHSERV
TrustedAuthservIDs  $AUTHSERV
SPFIgnoreResults    false
SPFSelfValidate     false
PublicSuffixList    $PSL
RejectFailures      false
FailureReports      false
Syslog              true
Background          false
UMask               0002
PidFile             $TMP/opendmarc.pid
EOF
	cat >"$TMP/policyd-spf.conf" <<EOF
debugLevel = 1
TestOnly = 1
HELO_reject = False
Mail_From_reject = False
PermError_reject = False
TempError_Defer = False
skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
Header_Type = AR
Authserv_Id = $AUTHSERV
Hide_Receiver = Yes
EOF
	chmod 644 "$TMP"/*.conf
}

# write_pf DIR PORT MILTERS [POLICY]: a private Postfix (bench_common.sh)
# that takes XCLIENT from loopback, discards bench.example, delivers
# keep.example to a maildir, with smtpd_milters = MILTERS and, for the
# trio, check_policy_service on the spawned policyd-spf.
write_pf() {
	local dir=$1 port=$2 milters=$3 policy=${4:-}
	PF_DIR=$dir PF_PORT=$port
	mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail"
	chown postfix "$dir/data"
	chown nobody:nogroup "$dir/mail"
	{
		postfix_main_common
		cat <<EOF
smtpd_authorized_xclient_hosts = 127.0.0.0/8
relay_domains = bench.example
transport_maps = inline:{ bench.example=discard: }
virtual_mailbox_domains = keep.example
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = inline:{ rcpt@keep.example=rcpt/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = ${policy:+check_policy_service unix:private/policyd-spf}
policyd-spf_time_limit = 3600
smtpd_milters = $milters
milter_default_action = tempfail
milter_protocol = 6
smtpd_tls_security_level = none
smtputf8_enable = no
EOF
	} >"$dir/etc/main.cf"
	{
		postfix_master_common
		cat <<EOF
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
showq     unix  n - n - - showq
EOF
		[ -z "$policy" ] ||
			echo "policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf $TMP/policyd-spf.conf"
	} >"$dir/etc/master.cf"
}

# start_pf DIR PORT [ns]: start the instance (in the namespace with "ns");
# prints nothing, sets PF_PID.
start_pf() {
	local SRV_PIN=("${SRV_PIN[@]}")
	[ "${3:-}" != ns ] || SRV_PIN+=("${NS_RUN[@]}")
	PF_DIR=$1 PF_PORT=$2 PF_PID=""
	start_postfix
}

start_setups() {
	write_milter_confs
	start_daemon MIL_PID "$MIL_PORT" "$TMP/cutover-milter.log" \
		"$MILTER_BIN" -f -c "$TMP/cutover-milter.conf"
	start_daemon DK_PID "$DK_PORT" "$TMP/opendkim.log" \
		"${NS_RUN[@]}" opendkim -f -x "$TMP/opendkim.conf"
	start_daemon DM_PID "$DM_PORT" "$TMP/opendmarc.log" \
		"${NS_RUN[@]}" opendmarc -f -c "$TMP/opendmarc.conf"
	PFM_DIR="$TMP/pf-milter" PFT_DIR="$TMP/pf-trio" PFB_DIR="$TMP/pf-plain"
	write_pf "$PFM_DIR" "$PFM_PORT" "inet:127.0.0.1:$MIL_PORT"
	write_pf "$PFT_DIR" "$PFT_PORT" "inet:127.0.0.1:$DK_PORT, inet:127.0.0.1:$DM_PORT" policy
	write_pf "$PFB_DIR" "$PFB_PORT" ""
	start_pf "$PFM_DIR" "$PFM_PORT"
	PFM_PID=$PF_PID
	start_pf "$PFT_DIR" "$PFT_PORT" ns
	PFT_PID=$PF_PID
	start_pf "$PFB_DIR" "$PFB_PORT"
	PFB_PID=$PF_PID
}

setup_of() {
	case "$1" in
	cutover-milter) echo "$PFM_DIR $PFM_PORT postfix=$PFM_PID,cutover-milter=$MIL_PID" ;;
	trio) echo "$PFT_DIR $PFT_PORT postfix=$PFT_PID,opendkim=$DK_PID,opendmarc=$DM_PID" ;;
	postfix) echo "$PFB_DIR $PFB_PORT postfix=$PFB_PID" ;;
	esac
}

# mload SETUP CONC ROUND SLOT RCPT [--warmup]
mload() {
	local dir port roots
	read -r dir port roots <<<"$(setup_of "$1")"
	HELPER_SCRIPT=$MLIB helper load --name "$1" --roots "$roots" --port "$port" \
		--conc "$2" --round "$3" --slot "$4" --rcpt "$5" \
		--server-cpu "$SERVER_CPU" --client-cpu "$CLIENT_CPU" --dns-pid "$DNS_PID" \
		--timeout "$LOAD_TIMEOUT" --results "$RESULTS" --corpus "$CORPUS" \
		--log "$dir/maillog" --queue-dir "$dir/queue" "${@:6}" || BROKEN=1
}

# ------------------------------------------------------------------- run

START=$(date +%s)
START_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "cutover milter benchmark"
echo "command:  $CMDLINE  (cwd $(pwd))"
echo "date:     $START_DATE"
echo "host:     $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "milter:   $MILTER_BIN ($(date -u -r "$MILTER_BIN" +%Y-%m-%dT%H:%M:%SZ))"
if ldd "$MILTER_BIN" 2>/dev/null | grep -q -E 'libasan|libubsan'; then
	echo "WARNING:  cutover-milter is a sanitizer build; its numbers mean nothing"
fi
echo "trio:     opendkim $(dpkg-query -W -f '${Version}' opendkim 2>/dev/null) (Mode v), opendmarc $(dpkg-query -W -f '${Version}' opendmarc 2>/dev/null), policyd-spf $(dpkg-query -W -f '${Version}' postfix-policyd-spf-python 2>/dev/null) (spawn, Header_Type AR)"
echo "postfix:  $(postconf -h mail_version), one private instance per set-up, XCLIENT from loopback, discard transport;"
echo "          a third instance without milters or policy server (\"postfix\") is the floor"
echo "plan:     $MESSAGES messages (one per session) per run at concurrency $CONCS, $ROUNDS paired round(s)"
echo "          in a random order per round (seed $SEED; --seed $SEED repeats it), after an untimed verdict run each"
echo "pinning:  $PINNING"
echo "dns:      one unbound on 127.0.0.1 and $DNS_ADDR:53; the trio runs in a mount namespace whose /etc/resolv.conf names $DNS_ADDR"
echo

mkdir -p "$CORPUS"
HELPER_SCRIPT=$MLIB helper corpus --dir "$CORPUS" --count "$MESSAGES" --seed "$SEED" ||
	die "could not build the corpus"
DNS_PORT=$(python3 "$LIB" freeport)
MIL_PORT=$(python3 "$LIB" freeport)
DK_PORT=$(python3 "$LIB" freeport)
DM_PORT=$(python3 "$LIB" freeport)
PFM_PORT=$(python3 "$LIB" freeport)
PFT_PORT=$(python3 "$LIB" freeport)
PFB_PORT=$(python3 "$LIB" freeport)
start_dns
start_setups
BROKEN=0

echo
echo "== verdict runs (untimed, also the warm-up, at the highest concurrency): the corpus into each set-up's maildir =="
slot=0
for s in cutover-milter trio postfix; do
	slot=$((slot + 1))
	mload "$s" "$WARM_CONC" 0 "$slot" rcpt@keep.example --warmup
	[ "$s" != postfix ] || continue
	read -r dir _ _ <<<"$(setup_of "$s")"
	HELPER_SCRIPT=$MLIB helper verdicts --name "$s" --maildir "$dir/mail/rcpt" \
		--out "$TMP/verdicts-$s.json" --want "$MESSAGES" || BROKEN=1
done

echo
echo "== load runs (a message is done when Postfix's queue is empty again) =="
echo "   rR/K: round R, K-th in its shuffled order; server: CPU s of the whole set-up, per 1000 messages, % of wall;"
echo "   client: the sender's CPU; other: CPU s the rest of the machine took on the set-ups' CPU, then on the sender's"
# shellcheck disable=SC2086  # CONCS is a list of numbers
mapfile -t ORDERS < <(python3 "$LIB" orders --seed "$SEED" --rounds "$ROUNDS" --concs $CONCS --servers cutover-milter trio postfix)
[ "${#ORDERS[@]}" -gt 0 ] || die "no run order from $LIB orders"
for line in "${ORDERS[@]}"; do
	read -r c r order <<<"$line"
	slot=0
	for s in $order; do
		slot=$((slot + 1))
		mload "$s" "$c" "$r" "$slot" rcpt@bench.example
	done
done

for v in MIL_PID DK_PID DM_PID DNS_PID; do
	if ! kill -0 "${!v}" 2>/dev/null; then
		echo "$v ${!v} died during the runs"
		BROKEN=1
	fi
done
if [ -s "$TMP/cutover-milter.log" ]; then
	echo
	echo "cutover-milter standard error (last 5 lines):"
	tail -5 "$TMP/cutover-milter.log" | sed 's/^/  /'
fi

rc=0
python3 "$REPORT" --results "$RESULTS" --out "$OUT" \
	--manifest "$CORPUS/manifest.json" \
	--verdicts "cutover-milter=$TMP/verdicts-cutover-milter.json" \
	--verdicts "trio=$TMP/verdicts-trio.json" \
	"command=$CMDLINE" "date=$START_DATE" "seconds=$(($(date +%s) - START))" \
	"milter=$MILTER_BIN" "postfix=$(postconf -h mail_version)" \
	"nproc=$(nproc)" "messages=$MESSAGES" "rounds=$ROUNDS" "seed=$SEED" \
	"server_cpu=$SERVER_CPU" "client_cpu=$CLIENT_CPU" "dns_cpu=$SINK_CPU" \
	"pinning=$PINNING" "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" || rc=$?
echo "total time: $(($(date +%s) - START)) s, load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$BROKEN" = 0 ] || rc=1
exit "$rc"
