#!/usr/bin/env bash
# sparse.sh - time and memory of archiving connections scattered over years
# (issue 8, defect 7: every connection in an hour of its own). Run from
# anywhere in the repository (it changes to the repository root):
#
#   scripts/sparse.sh                            # N = 2000, 5000, 20000
#   SPARSE_CONNS="2000 5000" scripts/sparse.sh   # other sizes
#   SPARSE_RUNS=3 scripts/sparse.sh              # runs per case (default 1)
#   SPARSE_BIN="/tmp/old bin/adu2parquet" scripts/sparse.sh   # other builds
#   SPARSE_STRACE=1 scripts/sparse.sh            # also count system calls
#
# Steps:
#  1. build bin/adu2parquet (unless SPARSE_BIN names the programs to
#     compare, e.g. a build of the commit before a change and one after);
#  2. write bench/sparse-N.pcap with scripts/mksparse for each N: N
#     connections (SYN, SYN-ACK, a 100-byte request, FIN: 4 packets each) at
#     uniformly random, sorted times over 2020-2022, seed 1; the same N gives
#     the same bytes, so a file is rebuilt only when missing or older than
#     the generator's sources;
#  3. archive each capture into a new bench/sparse-archive, with rollups
#     (the default) and with --rollup=false, SPARSE_RUNS times each under
#     /usr/bin/time -v (the programs' runs interleaved, so that they share
#     whatever else loads the machine), keeping the fastest run's wall and
#     CPU times (the one least disturbed by other load) and the largest
#     peak RSS; with
#     SPARSE_STRACE=1, once more under strace -f -c to count the file system
#     calls (strace slows the run down: its times are not reported);
#  4. print a Markdown table to stdout and save it to bench/sparse-results.md.
#
# Wall and system CPU time vary with other load on the machine and with the
# disk's fsync latency (two fsyncs per published file): compare builds on
# the same machine, at the same time, with several runs. One run per case
# by default because the slow cases of an old build take minutes. Needs Go,
# bash, /usr/bin/time; strace for SPARSE_STRACE.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONNS=${SPARSE_CONNS:-2000 5000 20000}
RUNS=${SPARSE_RUNS:-1}
OUT=bench
ARCH=$OUT/sparse-archive
TIME=/usr/bin/time

note() { echo "sparse.sh: $*" >&2; }
die() {
	note "$*"
	exit 1
}

[ -x "$TIME" ] || die "$TIME missing (Debian package time)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "SPARSE_RUNS=$RUNS: want a positive integer"
if [ "${SPARSE_STRACE:-0}" = 1 ]; then
	command -v strace >/dev/null 2>&1 || die "strace not found (Debian package strace)"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP" "$ARCH"' EXIT
mkdir -p "$OUT"

read -r -a BINS <<<"${SPARSE_BIN:-}"
if [ ${#BINS[@]} -eq 0 ]; then
	note "building bin/adu2parquet"
	go build -o bin/adu2parquet ./cmd/adu2parquet
	BINS=(bin/adu2parquet)
fi
for b in "${BINS[@]}"; do
	[ -x "$b" ] || die "$b: not an executable"
done

for n in $CONNS; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "SPARSE_CONNS: $n is not a positive integer"
	pcap=$OUT/sparse-$n.pcap
	if [ ! -f "$pcap" ] || [ -n "$(find scripts/mksparse internal/synthcap -name '*.go' -newer "$pcap")" ]; then
		note "writing $pcap"
		go run ./scripts/mksparse -o "$pcap" -conns "$n"
	fi
done

# secs_to_ms S: "1.69" (as /usr/bin/time prints it) in milliseconds.
secs_to_ms() {
	local int=${1%%.*} frac=
	[[ $1 == *.* ]] && frac=${1#*.}
	frac=${frac}000
	echo $((10#${int:-0} * 1000 + 10#${frac:0:3}))
}

# ms V: milliseconds V as seconds with one decimal.
ms() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# run_once BIN N ROLLUP: archive sparse-N.pcap once with BIN into a new
# $ARCH; sets wall, user and sys (ms), rss (KiB) and rollsec (the
# program's own figure).
run_once() {
	local bin=$1 n=$2 rollup=$3 line t h m s parts
	rm -rf "$ARCH"
	if ! "$TIME" -v -o "$TMP/time" "$bin" --out "$ARCH" --sensor s --rollup="$rollup" "$OUT/sparse-$n.pcap" \
		>/dev/null 2>"$TMP/err"; then
		cat "$TMP/err" "$TMP/time" >&2
		die "N=$n: $bin failed"
	fi
	wall=0 user=0 sys=0 rss=0 rollsec=-
	while IFS= read -r line; do
		case $line in
		*"Elapsed (wall clock) time"*)
			# h:mm:ss or m:ss.ss
			t=${line##*): } h=0
			IFS=: read -r -a parts <<<"$t"
			if [ ${#parts[@]} -eq 3 ]; then h=${parts[0]} m=${parts[1]} s=${parts[2]}; else m=${parts[0]} s=${parts[1]}; fi
			wall=$(((10#$h * 3600 + 10#$m * 60) * 1000 + $(secs_to_ms "$s")))
			;;
		*"User time (seconds): "*) user=$(secs_to_ms "${line##*: }") ;;
		*"System time (seconds): "*) sys=$(secs_to_ms "${line##*: }") ;;
		*"Maximum resident set size (kbytes): "*) rss=${line##*: } ;;
		esac
	done <"$TMP/time"
	while IFS= read -r line; do
		if [[ $line =~ rollups\ of\ .*\ in\ ([0-9.]+)s ]]; then rollsec=${BASH_REMATCH[1]}; fi
	done <"$TMP/err"
}

ROWS=()

# measure N ROLLUP: run a case RUNS times with each program (interleaved),
# append a table row per program.
measure() {
	local n=$1 rollup=$2 i k wall user sys rss rollsec calls sc cnt
	local -a bwall buser bsys brss broll bfiles
	for ((i = 1; i <= RUNS; i++)); do
		for k in "${!BINS[@]}"; do
			note "${BINS[k]}: N=$n, rollups $rollup, run $i/$RUNS"
			run_once "${BINS[k]}" "$n" "$rollup"
			if ((i == 1 || wall < bwall[k])); then
				bwall[k]=$wall
				broll[k]=$rollsec
			fi
			if ((i == 1 || user + sys < buser[k] + bsys[k])); then
				buser[k]=$user
				bsys[k]=$sys
			fi
			if ((i == 1 || rss > brss[k])); then brss[k]=$rss; fi
			bfiles[k]=$(find "$ARCH" -name '*.parquet' | wc -l)
		done
	done
	for k in "${!BINS[@]}"; do
		calls=
		if [ "${SPARSE_STRACE:-0}" = 1 ]; then
			rm -rf "$ARCH"
			strace -f -c -o "$TMP/strace" "${BINS[k]}" -q --out "$ARCH" --sensor s --rollup="$rollup" "$OUT/sparse-$n.pcap" >/dev/null
			for sc in openat unlinkat fsync mkdirat; do
				# "% time seconds usecs/call calls [errors] syscall"
				cnt=$(awk -v s="$sc" '$NF == s { print $4 }' "$TMP/strace")
				calls="$calls | ${cnt:-0}"
			done
		fi
		ROWS+=("| \`${BINS[k]}\` | $n | $rollup | $(ms "${bwall[k]}") | $(ms "${buser[k]}") | $(ms "${bsys[k]}") | $((brss[k] / 1024)) | ${bfiles[k]} | ${broll[k]}$calls |")
	done
}

for n in $CONNS; do
	measure "$n" true
	measure "$n" false
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git diff --quiet HEAD 2>/dev/null; then
	commit="$commit (uncommitted changes)"
fi
{
	echo "## Sparse timestamps: N connections over 2020-2022"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $commit; $(nproc) CPU(s)"
	echo "- command: \`PROGRAM --out $ARCH --sensor s --rollup={true|false} $OUT/sparse-N.pcap\`"
	echo "- fastest of $RUNS run(s) per case (wall; CPU user + system), largest peak RSS"
	echo
	if [ "${SPARSE_STRACE:-0}" = 1 ]; then
		echo "| program | N | rollups | wall s | user s | sys s | max RSS MiB | parquet files | rollups s | openat | unlinkat | fsync | mkdirat |"
		echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	else
		echo "| program | N | rollups | wall s | user s | sys s | max RSS MiB | parquet files | rollups s |"
		echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
	fi
	printf '%s\n' "${ROWS[@]}"
} >"$OUT/sparse-results.md.tmp"
mv "$OUT/sparse-results.md.tmp" "$OUT/sparse-results.md"
cat "$OUT/sparse-results.md"
