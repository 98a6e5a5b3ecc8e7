#!/usr/bin/env bash
# bench.sh - the ingest benchmark the project reports. Run from anywhere in
# the repository (it changes to the repository root):
#
#   scripts/bench.sh                       # 4,000,000 packets
#   BENCH_PACKETS=1000000 scripts/bench.sh # a quicker, smaller run
#
# Steps:
#  1. build bin/adu2parquet;
#  2. build bench/big.pcap (BENCH_PACKETS frames) with scripts/mkbench from a
#     fixed list of Ethernet captures in testdata/pcaps, plus bench/big.pcap.gz
#     and bench/big.pcap.zst. They are rebuilt only when the packet count, the
#     mkbench sources or the input captures changed (bench/big.pcap.params
#     records them); delete bench/ to force a rebuild;
#  3. run the Go micro-benchmarks of internal/decode, internal/capture and
#     internal/ingest (-count 3) into bench/go-bench.txt;
#  4. time adu2parquet end to end (--format adudump > /dev/null) on the plain,
#     gzip and zstd file, 3 runs each, under /usr/bin/time -v; and, as the
#     floor, merely reading each file: cat, gzip -dc, zstd -dc;
#  5. print a Markdown table to stdout and save it to bench/results.md.
#
# Progress goes to stderr, the table to stdout. Every file is read once
# before it is timed, so all runs see a warm page cache. Wall time is taken
# from bash's EPOCHREALTIME (microseconds) around each run; CPU time and peak
# RSS come from /usr/bin/time -v. packets/s is packets / wall seconds of the
# whole process (start-up included; adu2parquet's own summary line excludes
# it). Numbers are only comparable between runs on the same machine; another
# load on the machine shows up in the min-max spread.
#
# Needs only Go, bash >= 5, coreutils, /usr/bin/time, gzip and zstd. A missing
# time or zstd package is installed with apt-get when possible (as root or
# with password-less sudo); without zstd the zstd cases are skipped with a
# note.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKETS=${BENCH_PACKETS:-4000000}
RUNS=3     # end-to-end runs per case
GOCOUNT=3  # go test -count
OUT=bench
BIG=$OUT/big.pcap
PARAMS=$BIG.params
TIME=/usr/bin/time
INPUTS=(
	testdata/pcaps/zeek_echo-connections.pcap.gz
	testdata/pcaps/pcapplusplus_example.pcap
	testdata/pcaps/slips_test-cc-capture-1.pcap
	testdata/pcaps/zeek_http_bro.org.pcap
	testdata/pcaps/trex_Oracle.pcap
	testdata/pcaps/evilfingers_TCP_CONNECT_SCAN.pcap
	testdata/pcaps/zeek_http_1000-requests-one-dropped-response.pcap.gz
	testdata/pcaps/chrissanders_http_espn.pcapng
	testdata/pcaps/zeek_ssh.pcap
)

note() { echo "bench.sh: $*" >&2; }
die() {
	note "$*"
	exit 1
}

[[ $PACKETS =~ ^[1-9][0-9]*$ ]] || die "BENCH_PACKETS=$PACKETS: want a positive integer"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash >= 5 (EPOCHREALTIME)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# installed PKG: whether Debian package PKG is installed.
installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# apt_install PKG: install Debian package PKG unless it is there, the way
# scripts/install-tools.sh does (apt-get update only when PKG has no install
# candidate). Returns non-zero, with apt's output on stderr, when it cannot.
apt_install() {
	local pkg=$1 sudo=() k v cand=
	installed "$pkg" && return 0
	command -v apt-get >/dev/null 2>&1 || return 1
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || return 1
		sudo=(sudo -n)
	fi
	note "installing $pkg with apt-get"
	while read -r k v; do
		[ "$k" = "Candidate:" ] && cand=$v
	done < <(apt-cache policy "$pkg" 2>/dev/null)
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$TMP/apt.log" 2>&1 ||
			{ cat "$TMP/apt.log" >&2; return 1; }
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "$pkg" >"$TMP/apt.log" 2>&1 ||
		{ cat "$TMP/apt.log" >&2; return 1; }
}

# --- tools -------------------------------------------------------------------

command -v go >/dev/null 2>&1 || die "go not found in PATH"
command -v gzip >/dev/null 2>&1 || die "gzip not found in PATH"
if [ ! -x "$TIME" ]; then
	apt_install time || true
	[ -x "$TIME" ] || die "$TIME missing (Debian package time)"
fi
HAVE_ZSTD=1
if ! command -v zstd >/dev/null 2>&1; then
	if ! apt_install zstd || ! command -v zstd >/dev/null 2>&1; then
		note "zstd unavailable: skipping the zstd cases"
		HAVE_ZSTD=0
	fi
fi

# --- 1. build ------------------------------------------------------------------

note "building bin/adu2parquet"
go build -o bin/adu2parquet ./cmd/adu2parquet

# --- 2. inputs -------------------------------------------------------------------

mkdir -p "$OUT"

# params prints what bench/big.pcap is a function of.
params() {
	echo "packets=$PACKETS"
	local src
	for src in scripts/mkbench/*.go; do
		[[ $src == *_test.go ]] || sha256sum "$src"
	done
	sha256sum "${INPUTS[@]}"
}

params >"$TMP/params"
if [ -f "$BIG" ] && [ -f "$PARAMS" ] && cmp -s "$TMP/params" "$PARAMS"; then
	note "reusing $BIG ($PACKETS packets)"
else
	note "building $BIG ($PACKETS packets)"
	rm -f "$PARAMS" "$BIG.gz" "$BIG.zst"
	go run ./scripts/mkbench -o "$BIG" -packets "$PACKETS" "${INPUTS[@]}"
	mv "$TMP/params" "$PARAMS"
fi

# compress CMD EXT: write $BIG.EXT with CMD (reading stdin) unless it is
# newer than $BIG.
compress() {
	local ext=$1
	shift
	if [ -f "$BIG.$ext" ] && [ "$BIG.$ext" -nt "$BIG" ]; then
		note "reusing $BIG.$ext"
		return
	fi
	note "building $BIG.$ext"
	"$@" <"$BIG" >"$BIG.$ext.tmp"
	mv "$BIG.$ext.tmp" "$BIG.$ext"
}
compress gz gzip -c -6
[ "$HAVE_ZSTD" -eq 0 ] || compress zst zstd -q -c -3

# --- 3. Go micro-benchmarks ------------------------------------------------------------

note "go test -bench (count $GOCOUNT) > $OUT/go-bench.txt"
if ! go test -run '^$' -bench . -benchmem -count "$GOCOUNT" \
	./internal/decode ./internal/capture ./internal/ingest >"$OUT/go-bench.txt" 2>&1; then
	cat "$OUT/go-bench.txt" >&2
	die "go test -bench failed"
fi

# --- 4. end to end ------------------------------------------------------------------

# secs_to_cs S: "1.69" (as /usr/bin/time prints it) in centiseconds.
secs_to_cs() {
	local int=${1%%.*} frac=
	[[ $1 == *.* ]] && frac=${1#*.}
	frac=${frac}00
	echo $((10#${int:-0} * 100 + 10#${frac:0:2}))
}

# median N...: the median of integers (the lower middle for an even count).
median() {
	local sorted
	mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
	echo "${sorted[(${#sorted[@]} - 1) / 2]}"
}

# fixed V D: integer V scaled by 10^D, printed with D decimals (rounded).
fixed() {
	local v=$1 d=$2 scale=1 i
	for ((i = 0; i < d; i++)); do scale=$((scale * 10)); done
	if [ "$d" -eq 0 ]; then
		echo "$v"
		return
	fi
	printf '%d.%0*d' $((v / scale)) "$d" $((v % scale))
}

# round V FROM TO: integer V with FROM implied decimals, rounded to TO.
round() {
	local v=$1 div=1 i
	for ((i = $3; i < $2; i++)); do div=$((div * 10)); done
	echo $(((v + div / 2) / div))
}

BIGBYTES=$(stat -c %s "$BIG")
ROWS=()

# measure CASE FILE CMD...: run CMD (stdout to /dev/null) RUNS times under
# /usr/bin/time -v and append a table row for CASE. For adu2parquet the
# packet count is taken from its summary line and checked against
# BENCH_PACKETS.
measure() {
	local name=$1 file=$2 i t0 t1 line user sys rss maxrss=0 pkts
	shift 2
	local walls=() cpus=()
	cat "$file" >/dev/null # warm the page cache
	for ((i = 1; i <= RUNS; i++)); do
		t0=$EPOCHREALTIME
		if ! "$TIME" -v -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err"; then
			cat "$TMP/err" "$TMP/time" >&2
			die "$name: $* failed"
		fi
		t1=$EPOCHREALTIME
		# Strip the decimal point, which is locale-dependent: microseconds.
		walls+=($((10#${t1//[!0-9]/} - 10#${t0//[!0-9]/})))
		user=0 sys=0 rss=0
		while IFS= read -r line; do
			case $line in
			*"User time (seconds): "*) user=$(secs_to_cs "${line##*: }") ;;
			*"System time (seconds): "*) sys=$(secs_to_cs "${line##*: }") ;;
			*"Maximum resident set size (kbytes): "*) rss=${line##*: } ;;
			esac
		done <"$TMP/time"
		cpus+=($((user + sys)))
		((rss > maxrss)) && maxrss=$rss
		if [[ $1 == bin/adu2parquet ]]; then
			pkts=
			while IFS= read -r line; do
				[[ $line =~ input\(s\),\ ([0-9]+)\ packets ]] && pkts=${BASH_REMATCH[1]}
			done <"$TMP/err"
			[ "$pkts" = "$PACKETS" ] || die "$name: summary says ${pkts:-no} packets, want $PACKETS"
		fi
	done
	local wall min max cpu
	wall=$(median "${walls[@]}")
	min=$(printf '%s\n' "${walls[@]}" | sort -n | head -n1)
	max=$(printf '%s\n' "${walls[@]}" | sort -n | tail -n1)
	cpu=$(median "${cpus[@]}")
	ROWS+=("| $name | $(fixed "$(round "$wall" 6 3)" 3) | $(fixed "$(round "$min" 6 3)" 3)–$(fixed "$(round "$max" 6 3)" 3) | $((PACKETS * 1000000 / wall)) | $(fixed $((BIGBYTES * 10 / wall)) 1) | $(fixed "$cpu" 2) | $(fixed $((maxrss * 10 / 1024)) 1) |")
	note "$name: median wall $(fixed "$(round "$wall" 6 3)" 3) s"
}

A2P=(bin/adu2parquet --format adudump)
measure "adu2parquet, pcap" "$BIG" "${A2P[@]}" "$BIG"
measure "floor: cat pcap" "$BIG" cat "$BIG"
measure "adu2parquet, pcap.gz" "$BIG.gz" "${A2P[@]}" "$BIG.gz"
measure "floor: gzip -dc pcap.gz" "$BIG.gz" gzip -dc "$BIG.gz"
if [ "$HAVE_ZSTD" -eq 1 ]; then
	measure "adu2parquet, pcap.zst" "$BIG.zst" "${A2P[@]}" "$BIG.zst"
	measure "floor: zstd -dc pcap.zst" "$BIG.zst" zstd -dc "$BIG.zst"
fi

# --- 5. report ----------------------------------------------------------------------

cpu_model=unknown
while IFS= read -r line; do
	if [[ $line == "model name"* ]]; then
		cpu_model=${line#*: }
		break
	fi
done </proc/cpuinfo 2>/dev/null || true
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git diff --quiet HEAD 2>/dev/null; then
	commit="$commit (uncommitted changes)"
fi

mib() { fixed $(($(stat -c %s "$1") * 10 / 1048576)) 1; }
sizes="pcap $(mib "$BIG") MiB, gzip $(mib "$BIG.gz") MiB"
[ "$HAVE_ZSTD" -eq 0 ] || sizes="$sizes, zstd $(mib "$BIG.zst") MiB"

{
	echo "## Ingest benchmark"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $commit; $(go version | cut -d' ' -f3-)"
	echo "- machine: $cpu_model, $(nproc) CPU(s)"
	echo "- input: \`$BIG\`, $PACKETS packets ($sizes), built by scripts/mkbench from ${#INPUTS[@]} captures in testdata/pcaps"
	echo "- command: \`bin/adu2parquet --format adudump FILE > /dev/null\`; $RUNS runs per case, warm page cache"
	echo
	echo "| case | wall s (median) | wall s (min–max) | packets/s | MB/s (pcap bytes) | CPU s (user+sys) | max RSS MiB |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "packets/s and MB/s divide the packet count and the uncompressed pcap size by the median wall time."
	echo "The floor rows only read the same file (cat) or decompress it with the reference tools (gzip -dc, zstd -dc), for scale;"
	echo "adu2parquet decompresses with klauspost/pgzip (decompression runs ahead on a second goroutine) and klauspost/compress/zstd instead."
	[ "$HAVE_ZSTD" -eq 1 ] || echo "zstd was unavailable: the zstd cases were skipped."
	echo
	echo "### Go micro-benchmarks (\`$OUT/go-bench.txt\`, -count $GOCOUNT)"
	echo
	echo '```'
	while IFS= read -r line; do
		[[ $line == Benchmark* || $line == pkg:* ]] && echo "$line"
	done <"$OUT/go-bench.txt"
	echo '```'
} >"$OUT/results.md.tmp"
mv "$OUT/results.md.tmp" "$OUT/results.md"
cat "$OUT/results.md"
