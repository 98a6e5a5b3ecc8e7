#!/usr/bin/env bash
# validate.sh - validation of the inference against ground truth (docs/validation.md).
#
# Builds three network namespaces (client, mid, server) joined by veth
# pairs, runs abtsynth's forwarder in mid (loss and delay on both sides of
# the monitored link), its server in server and its client in client,
# captures next to the server with tcpdump, and compares the capture with
# the applications' logs. Needs root; only the namespaces it creates (named
# abtv<pid>-*) are addressed, and they are removed whatever happens.
#
# Output: testdata/validation/<scenario>/{capture.pcap.gz,client.jsonl,server.jsonl},
# the plots in testdata/validation/plots and the report docs/validation.md.
# SEQ_CONNS, CONC_CONNS, BULK_CONNS, PIPE_CONNS, PARALLEL, LOSS, DELAY,
# CONC_DELAY and CAPTURE_AT (server or client) change the run.
set -euo pipefail
cd "$(dirname "$0")/.."

SEQ_CONNS=${SEQ_CONNS:-200}
CONC_CONNS=${CONC_CONNS:-100}
BULK_CONNS=${BULK_CONNS:-100}
PIPE_CONNS=${PIPE_CONNS:-100}
PARALLEL=${PARALLEL:-50}
LOSS=${LOSS:-0.01}
DELAY=${DELAY:-5ms}
OUT=testdata/validation

if [ "$(id -u)" != 0 ]; then
	echo "validate.sh: needs root (network namespaces)" >&2
	exit 2
fi
need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ethtool >/dev/null || need+=(ethtool)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

go build -o bin/abtsynth ./cmd/abtsynth
BIN=$PWD/bin/abtsynth

P=abtv$$
NC=$P-c NM=$P-m NS=$P-s
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
	for ns in "$NC" "$NM" "$NS"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup() {
	ip netns add "$NC"
	ip netns add "$NM"
	ip netns add "$NS"
	ip link add c0 netns "$NC" type veth peer name m0 netns "$NM"
	ip link add s0 netns "$NS" type veth peer name m1 netns "$NM"
	ip netns exec "$NM" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$NC" addr add 10.77.0.1/24 dev c0
	ip -n "$NC" addr add fd77::1/64 dev c0 nodad
	ip -n "$NS" addr add 10.77.0.2/24 dev s0
	ip -n "$NS" addr add fd77::2/64 dev s0 nodad
	# Frames cross mid through AF_PACKET sockets: no segmentation offload
	# (a 64 KB super-frame cannot be written back) and no checksum offload
	# (a frame read there would carry a partial checksum).
	for x in "$NC c0" "$NM m0" "$NM m1" "$NS s0"; do
		set -- $x
		ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
		ip -n "$1" link set "$2" up
		ip -n "$1" link set lo up
	done
}

# scenario NAME CONNS LOSS ABTSYNTH-PARAMS...
scenario() {
	local name=$1 conns=$2 loss=$3
	shift 3
	local dir=$OUT/$name tmp
	tmp=$(mktemp -d)
	mkdir -p "$dir"
	setup
	ip netns exec "$NM" "$BIN" forward --a m0 --b m1 --loss "$loss" --delay "$DELAY" --seed 7 2>"$tmp/forward.log" &
	pids+=($!)
	if [ "${CAPTURE_AT:-server}" = client ]; then
		ip netns exec "$NC" tcpdump -i c0 -n -s 128 -U -w "$tmp/capture.pcap" tcp 2>"$tmp/tcpdump.log" &
	else
		ip netns exec "$NS" tcpdump -i s0 -n -s 128 -U -w "$tmp/capture.pcap" tcp 2>"$tmp/tcpdump.log" &
	fi
	pids+=($!)
	ip netns exec "$NS" "$BIN" server --listen 10.77.0.2:9000 --listen '[fd77::2]:9000' --log "$tmp/server.jsonl" "$@" &
	pids+=($!)
	sleep 1.5
	echo "== $name: $conns connections"
	ip netns exec "$NC" "$BIN" client --server 10.77.0.2:9000 --local 10.77.0.1 \
		--server '[fd77::2]:9000' --local fd77::1 --conns "$conns" --parallel "$PARALLEL" \
		--log "$tmp/client.jsonl" "$@"
	sleep 2 # the last FINs and ACKs
	cleanup
	cat "$tmp/forward.log" "$tmp/tcpdump.log" >&2
	gzip -9n <"$tmp/capture.pcap" >"$dir/capture.pcap.gz"
	cp "$tmp/client.jsonl" "$tmp/server.jsonl" "$dir/"
	rm -rf "$tmp"
}

SEQ=(--mode seq --seed 11 --adus 1:12 --size 1:20000 --think 0s:300ms --write-size 500:8000 --write-delay 0s:20ms --rst 0.1 --empty 0.05)
CONC=(--mode conc --seed 12 --adus 1:4 --heavy --size 200:100000 --alpha 1.2 --gap 0s:2s --write-size 500:8000 --write-delay 0s:20ms --rst 0.1 --empty 0.05)

# Concurrent dialogs the wire shows (issue 15): bulk transfers both ways,
# each side starting while the other may be mid-ADU; and pipelined requests
# over responses in flight. With loss, before and after the monitor, and
# a 20 ms one-way delay (CONC_DELAY), at which most such dialogs overlap on
# the wire. CAPTURE_AT=client puts the monitor next to the client instead.
CONC_DELAY=${CONC_DELAY:-20ms}
BULK=(--mode conc --seed 13 --adus 1:3 --heavy --size 20000:2000000 --alpha 1.1 --gap 0s:300ms --write-size 8000:65536 --write-delay 0s:2ms --rst 0 --empty 0)
PIPE=(--mode pipe --seed 14 --adus 2:8 --heavy --size 300:500000 --alpha 1.2 --gap 0s:50ms --think 0s:100ms --write-size 500:65536 --write-delay 0s:2ms --rst 0 --empty 0)

scenario seq-loss "$SEQ_CONNS" "$LOSS" "${SEQ[@]}"
scenario conc "$CONC_CONNS" 0 "${CONC[@]}"
DELAY=$CONC_DELAY scenario conc-bulk "$BULK_CONNS" "$LOSS" "${BULK[@]}"
DELAY=$CONC_DELAY scenario pipe "$PIPE_CONNS" "$LOSS" "${PIPE[@]}"

"$BIN" report --scenario seq-loss=$OUT/seq-loss --scenario conc=$OUT/conc \
	--scenario conc-bulk=$OUT/conc-bulk --scenario pipe=$OUT/pipe \
	--out docs/validation.md --plots $OUT/plots --plots-rel ../$OUT/plots \
	--command "make validate   # scripts/validate.sh: SEQ_CONNS=$SEQ_CONNS CONC_CONNS=$CONC_CONNS BULK_CONNS=$BULK_CONNS PIPE_CONNS=$PIPE_CONNS LOSS=$LOSS DELAY=$DELAY CONC_DELAY=$CONC_DELAY (conc-bulk, pipe) CAPTURE_AT=${CAPTURE_AT:-server}; seq: ${SEQ[*]}; conc: ${CONC[*]}; conc-bulk: ${BULK[*]}; pipe: ${PIPE[*]}"
echo "== report: docs/validation.md"
