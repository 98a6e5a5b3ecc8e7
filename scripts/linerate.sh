#!/usr/bin/env bash
# linerate.sh - the line-rate benchmark (docs/performance.md, "Line rate"):
# how adu2parquet compares with merely reading the capture, and with the
# established tools, on two kinds of capture. Run from anywhere in the
# repository:
#
#   scripts/linerate.sh            # best of 3 runs per case
#   RUNS=5 scripts/linerate.sh
#   WORKERS="1 2 4" scripts/linerate.sh
#
# The captures, built once under bench/ and rebuilt when their generators
# change:
#   - campus.pcap: scripts/mkcampus with 8,000 connections in 30 min, a
#     campus link's header-only capture
#     (web, plain HTTP and mail servers, response and think times, SYN
#     retries, RSTs), time-ordered;
#   - mix.pcap: scripts/mkbench -stagger 1s over the 21 largest bundled
#     captures, 6.1 M packets: address-rewritten copies that overlap in
#     time (so the file is not time-ordered), scans among them.
#
# The cases, each under /usr/bin/time -f (wall from bash's EPOCHREALTIME):
#   tcpdump      tcpdump -r F -w /dev/null: reading and discarding, the floor
#   text         adu2parquet --format adudump --workers N F > /dev/null
#   archive      adu2parquet --out DIR --workers N F (a fresh archive each
#                run; the rollups are left out: they are DuckDB's work, not
#                the collector's)
#                for each N of WORKERS (default: 1 and every core), after
#                checking that the text of each N is the text of the first
#                byte for byte
#   tcptrace     tcptrace -n F > /dev/null (per-connection statistics)
#   argus        argus -r F -w /dev/null (flow records)
# Each case reports wall and CPU seconds, peak RSS, packets per second of
# wall time and the ratio of its wall time to the floor. The table goes to
# stdout and to bench/linerate.md; progress to stderr.
#
# Needs Go, bash >= 5 and the Debian packages tcpdump, tcptrace, argus-server
# and time, which it installs with apt-get when missing (as root or with
# password-less sudo); a tool that cannot be installed is left out of the
# table with a note.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${RUNS:-3}
WORKERS=${WORKERS:-"1 $(nproc)"}
OUT=bench
TIME=/usr/bin/time
MIX_PACKETS=6100000

note() { echo "linerate.sh: $*" >&2; }
die() {
	note "$*"
	exit 1
}
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash >= 5 (EPOCHREALTIME)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS=$RUNS: want a positive integer"
for w in $WORKERS; do
	[[ $w =~ ^[1-9][0-9]*$ ]] || die "WORKERS=$WORKERS: want positive integers"
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --- tools -------------------------------------------------------------------

scripts/install-tools.sh time tcpdump tcptrace argus-server || note "some tools could not be installed"
[ -x "$TIME" ] || die "$TIME missing (Debian package time)"
command -v tcpdump >/dev/null 2>&1 || die "tcpdump missing: it is the floor"

# --- build and captures ---------------------------------------------------------

note "building bin/adu2parquet"
go build -buildvcs=auto -o bin/adu2parquet ./cmd/adu2parquet
mkdir -p "$OUT"

# build NAME CMD...: run CMD (which writes $OUT/NAME) unless $OUT/NAME is
# there and its recorded parameters ($OUT/NAME.params: the command and the
# sources of its generator) are unchanged.
build() {
	local name=$1 gen=$2
	shift 2
	{
		echo "$*"
		find "$gen" -name '*.go' ! -name '*_test.go' -print0 | sort -z | xargs -0 sha256sum
	} >"$TMP/params"
	if [ -f "$OUT/$name" ] && cmp -s "$TMP/params" "$OUT/$name.params"; then
		note "reusing $OUT/$name"
		return
	fi
	note "building $OUT/$name"
	rm -f "$OUT/$name.params"
	"$@" >&2
	cp "$TMP/params" "$OUT/$name.params"
}
mapfile -t MIX_INPUTS < <(ls -S testdata/pcaps/* | head -21)
build campus.pcap scripts/mkcampus go run ./scripts/mkcampus -o "$OUT/campus.pcap" -web 6000 -plain 1500 -mail 500 -span 30m
build mix.pcap scripts/mkbench go run ./scripts/mkbench -o "$OUT/mix.pcap" -packets "$MIX_PACKETS" -stagger 1s "${MIX_INPUTS[@]}"

# --- measuring ---------------------------------------------------------------------

# measure CMD...: run CMD RUNS times (stdout discarded) and set the globals
# WALL (µs), CPU (cs), RSS (KiB) of the fastest run.
measure() {
	local i t0 t1 wall out best=
	for ((i = 0; i < RUNS; i++)); do
		[ -n "${BEFORE:-}" ] && eval "$BEFORE"
		t0=${EPOCHREALTIME/./}
		"$TIME" -f '%U %S %M' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" ||
			{ cat "$TMP/err" >&2; die "failed: $*"; }
		t1=${EPOCHREALTIME/./}
		wall=$((t1 - t0))
		if [ -z "$best" ] || [ "$wall" -lt "$best" ]; then
			best=$wall
			read -r u s RSS <"$TMP/time"
			CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 100 + 0.5 }')
		fi
	done
	WALL=$best
}

# row CASE PACKETS FLOOR: a table row from the globals of measure.
row() {
	awk -v c="$1" -v p="$2" -v floor="$3" -v w="$WALL" -v cpu="$CPU" -v rss="$RSS" 'BEGIN {
		printf "| %s | %.2f | %.2f | %.0f | %.2f M | %.1f× |\n", c, w / 1e6, cpu / 100, rss / 1024, p / (w / 1e6) / 1e6, w / floor
	}'
}

# packets F: the capture's packet count, as adu2parquet counts it.
packets() {
	bin/adu2parquet --format adudump "$1" 2>&1 >/dev/null | sed -n 's/.* \([0-9]*\) packets (.*/\1/p' | head -1
}

report="$TMP/report.md"
{
	echo "Best of $RUNS runs; $(nproc) cores; $(go version | cut -d' ' -f3); $(date -u +%F)."
	echo
} >"$report"
for cap in campus.pcap mix.pcap; do
	f=$OUT/$cap
	cat "$f" >/dev/null # warm the page cache
	n=$(packets "$f")
	note "$cap: $n packets"
	{
		echo "### $cap: $n packets, $(($(stat -c %s "$f") / 1048576)) MiB"
		echo
		echo "| case | wall s | CPU s | peak RSS MiB | packets/s | × floor |"
		echo "|---|---:|---:|---:|---:|---:|"
	} >>"$report"
	note "$cap: tcpdump"
	measure tcpdump -r "$f" -w /dev/null
	floor=$WALL
	row tcpdump "$n" "$floor" >>"$report"
	first=
	for w in $WORKERS; do
		# The output is the same for every number of workers: check it.
		bin/adu2parquet -q --format adudump --workers "$w" "$f" >"$TMP/text-$w"
		if [ -z "$first" ]; then
			first=$w
		else
			cmp "$TMP/text-$first" "$TMP/text-$w" >&2 || die "$cap: text with --workers $w differs from --workers $first"
			rm -f "$TMP/text-$w"
		fi
		note "$cap: text, $w worker(s)"
		measure bin/adu2parquet -q --format adudump --workers "$w" "$f"
		row "adu2parquet text, $w worker(s)" "$n" "$floor" >>"$report"
		note "$cap: archive, $w worker(s)"
		BEFORE="rm -rf '$TMP/archive'" measure bin/adu2parquet -q --rollup=false --workers "$w" --out "$TMP/archive" --sensor bench "$f"
		row "adu2parquet archive, $w worker(s)" "$n" "$floor" >>"$report"
	done
	rm -f "$TMP/text-$first"
	if command -v tcptrace >/dev/null 2>&1; then
		note "$cap: tcptrace"
		measure tcptrace -n "$f"
		row tcptrace "$n" "$floor" >>"$report"
	fi
	if command -v argus >/dev/null 2>&1; then
		note "$cap: argus"
		measure argus -r "$f" -w /dev/null
		row argus "$n" "$floor" >>"$report"
	fi
	echo >>"$report"
done
cp "$report" "$OUT/linerate.md"
cat "$report"
