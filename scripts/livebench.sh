#!/usr/bin/env bash
# livebench.sh - how fast a link adu2parquet live keeps up with, against
# tcpdump (docs/performance.md, "Live capture"). Needs root: it replays a
# capture with tcpreplay into one end of a veth pair, in a network namespace
# of its own (nothing outside it is addressed), and captures the other end,
# at rising packet rates:
#
#   scripts/livebench.sh                 # bench/campus.pcap (scripts/linerate.sh builds it)
#   LIVEBENCH_PCAP=bench/mix.pcap LIVEBENCH_PACKETS=1000000 scripts/livebench.sh
#   LIVEBENCH_RATES="100000 400000 topspeed" scripts/livebench.sh
#   LIVEBENCH_FANOUT="1 2" scripts/livebench.sh   # live with --fanout 1, then 2
#
# For each rate it replays LIVEBENCH_PACKETS packets (default 500,000) of
# the capture (tcpreplay --pps, or --topspeed) twice: once captured by
# `adu2parquet live` into a new archive, once by `tcpdump -w /dev/null`,
# both with a 64 MiB ring and a 192-byte snap length, and reports what each
# received and what the kernel dropped. The table goes to stdout and
# bench/livebench.md. Installs tcpreplay and tcpdump (Debian) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PCAP=${LIVEBENCH_PCAP:-bench/campus.pcap}
PACKETS=${LIVEBENCH_PACKETS:-500000}
RATES=${LIVEBENCH_RATES:-"50000 100000 200000 400000 800000 topspeed"}
FANOUT=${LIVEBENCH_FANOUT:-1}

note() { echo "livebench.sh: $*" >&2; }
die() {
	note "$*"
	exit 1
}

if [ -z "${LIVEBENCH_INSIDE:-}" ]; then
	[ "$(id -u)" = 0 ] || die "needs root (a network namespace, raw sockets)"
	[ -f "$PCAP" ] || die "$PCAP missing: scripts/linerate.sh builds it"
	scripts/install-tools.sh tcpreplay tcpdump iproute2 || die "cannot install tcpreplay and tcpdump"
	note "building bin/adu2parquet"
	go build -buildvcs=auto -o bin/adu2parquet ./cmd/adu2parquet
	export LIVEBENCH_INSIDE=1
	exec unshare -n "$0" "$@"
fi

# Inside the namespace.
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link add a0 type veth peer name a1
ip link set a0 up
ip link set a1 up
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# replay RATE: replays PACKETS packets into a0; prints the rate achieved
# (packets/s, from tcpreplay's report).
replay() {
	local speed=(--pps="$1")
	[ "$1" = topspeed ] && speed=(--topspeed)
	tcpreplay -i a0 "${speed[@]}" --limit="$PACKETS" "$PCAP" 2>&1 >"$TMP/replay" | grep -v -e Warning -e "snaplen of" >&2 || true
	sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$TMP/replay" | head -1
}

# live RATE FANOUT: sets SENT, GOT, DROPPED for adu2parquet live.
live() {
	rm -rf "$TMP/archive"
	bin/adu2parquet live -i a1 --fanout "$2" --out "$TMP/archive" --sensor bench --rollup=false 2>"$TMP/live.err" &
	local pid=$!
	for _ in $(seq 100); do
		compgen -G "$TMP/archive/_abt/runs/*" >/dev/null && break
		sleep 0.05
	done
	sleep 0.3
	SENT=$(replay "$1")
	sleep 1
	kill -TERM "$pid"
	wait "$pid" || die "adu2parquet live failed: $(cat "$TMP/live.err")"
	GOT=$(sed -n 's/^adu2parquet: 1 input(s), \([0-9]*\) packets.*/\1/p' "$TMP/live.err")
	DROPPED=$(sed -n 's/.*dropped_kernel \([0-9]*\).*/\1/p' "$TMP/live.err")
	DROPPED=${DROPPED:-0}
}

# tcpd RATE: the same for tcpdump.
tcpd() {
	tcpdump -i a1 -s 192 -B 65536 -w /dev/null 2>"$TMP/tcpdump.err" &
	local pid=$!
	sleep 0.5
	SENT=$(replay "$1")
	sleep 1
	kill -INT "$pid"
	wait "$pid" || true
	GOT=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$TMP/tcpdump.err")
	DROPPED=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$TMP/tcpdump.err")
}

report=$TMP/report.md
{
	echo "$PACKETS packets of $PCAP per run, replayed by tcpreplay over a veth pair; $(nproc) cores; $(date -u +%F)."
	echo
	head="| rate asked | rate sent (pps) |" rule="|---|---:|"
	for f in $FANOUT; do
		head+=" live, --fanout $f: received | dropped |" rule+="---:|---:|"
	done
	echo "$head tcpdump: received | dropped |"
	echo "$rule---:|---:|"
} >"$report"
for rate in $RATES; do
	sent="" cols=""
	for f in $FANOUT; do
		note "rate $rate: adu2parquet live --fanout $f"
		live "$rate" "$f"
		sent+="$SENT / " cols+=" $GOT | $DROPPED |"
	done
	note "rate $rate: tcpdump"
	tcpd "$rate"
	echo "| $rate | $sent$SENT |$cols $GOT | $DROPPED |" >>"$report"
done
mkdir -p bench
cp "$report" bench/livebench.md
cat "$report"
