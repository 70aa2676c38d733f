#!/usr/bin/env bash
# contrib/setup.sh - install what is missing (Debian 12), build, then run or test.
#
#   bash contrib/setup.sh run    build and run cutoverd on conf/demo.conf (foreground)
#   bash contrib/setup.sh test   build twice (gcc; clang + ASan/UBSan + fuzzers) and run ctest in both
#   bash contrib/setup.sh deps   only install the Debian packages
#   bash contrib/setup.sh build  only build (build/)
#
# Must run as root on a fresh machine (apt-get); afterwards, run/build/test work
# as any user once the packages are there.  Postfix is installed with
# "No configuration": the system instance is never configured or started; the
# tests run private Postfix instances of their own on loopback.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

packages=(
	build-essential cmake pkg-config clang libclang-rt-14-dev
	libevent-dev libssl-dev libconfuse-dev libidn2-dev libjansson-dev libcmocka-dev libpsl-dev publicsuffix
	libspf2-dev libopendkim-dev libmilter-dev libunbound-dev
	unbound opendkim opendkim-tools miltertest
	openssl ca-certificates python3 python3-yaml swaks postfix jq procps iproute2
)

deps() {
	local missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
			|| missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # build DIR [cmake args...]
	local dir=$1; shift
	cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j "$jobs"
}

run_demo() {
	build "$top/build"
	mkdir -p /tmp/cutover-demo
	"$top/build/cutoverd" -n -c "$top/conf/demo.conf"
	cat <<MSG
cutoverd is starting on 127.0.0.1:2525 (config: conf/demo.conf; stop with Ctrl-C).
Try it from another terminal:
  swaks --server 127.0.0.1:2525 --to someone@example.com     # 451: example.com is in limbo
  swaks --server 127.0.0.1:2525 --to someone@example.org     # 250 at RCPT, 451 after the message
  swaks --server 127.0.0.1:2525 --to someone@elsewhere.test  # 550 5.7.1 relaying denied
  jq . /tmp/cutover-demo/attempts.jsonl                      # the attempt log
MSG
	exec "$top/build/cutoverd" -c "$top/conf/demo.conf"
}

run_tests() {
	local rc=0
	build "$top/build"
	echo "== gcc build: unit + integration tests"
	(cd "$top/build" && ctest -j "$jobs" --output-on-failure) || rc=1
	echo "== clang build with ASan + UBSan: unit + integration tests + fuzz smoke runs"
	CC=clang build "$top/build-asan" -DCUTOVER_SANITIZE=ON -DCUTOVER_FUZZ=ON
	(cd "$top/build-asan" && \
		ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest -j "$jobs" --output-on-failure) || rc=1
	[ $rc -eq 0 ] && echo "setup: all tests passed" || echo "setup: TESTS FAILED" >&2
	return $rc
}

case "${1:-}" in
	deps)  deps ;;
	build) deps; build "$top/build" ;;
	run)   deps; run_demo ;;
	test)  deps; run_tests ;;
	*)     echo "usage: $0 run|test|deps|build" >&2; exit 2 ;;
esac
