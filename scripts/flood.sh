#!/usr/bin/env bash
# flood.sh - adu2parquet's memory under a SYN flood and under connections
# whose sequence numbers jump (docs/inference.md, "Memory bound"). Run from
# anywhere in the repository (it changes to the repository root):
#
#   scripts/flood.sh                   # this tree, default settings
#   FLOOD_BASE=b4c9b4c scripts/flood.sh  # also a commit's build, for before/after
#   FLOOD_ARGS='--memory-budget 64MiB' scripts/flood.sh  # extra flags for this tree
#
# Steps:
#  1. build bin/adu2parquet (and, with FLOOD_BASE, the program at that commit
#     from `git archive`, into a temporary directory);
#  2. write with scripts/mkflood, unless bench/flood.params says they are
#     current:
#       bench/flood-1m.pcap   1,000,000 SYNs at 100,000/s from as many sources,
#                             with 1,000 real connections (3 exchanges each)
#                             interleaved (about 70 MB);
#       bench/jumps-100k.pcap 100,000 connections, all open at once, each
#                             sending 40 data segments 10 ms apart whose
#                             sequence numbers jump by more than 2^30 (every
#                             segment ends an ADU; about 300 MB);
#  3. run each case once under /usr/bin/time -f %M (peak resident set):
#     the flood as adudump text (to /dev/null) and into an archive in a
#     temporary directory, the jumps as text; each program's summary gives
#     the peak table size, and the peak RSS divided by it is the resident
#     bytes per tracked entry;
#  4. run TestMemoryCosts (the Go heap per kind of entry, against the
#     engine's own account);
#  5. print a Markdown report to stdout and save it to bench/flood.md.
#
# Progress goes to stderr. Needs Go, bash, coreutils, git and /usr/bin/time.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=bench
TIME=/usr/bin/time
BASE=${FLOOD_BASE:-}
read -r -a EXTRA <<<"${FLOOD_ARGS:-}"

note() { echo "flood.sh: $*" >&2; }
die() {
	note "$*"
	exit 1
}

[ -x "$TIME" ] || die "$TIME missing (Debian package time)"
command -v go >/dev/null 2>&1 || die "go not found in PATH"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --- 1. build -------------------------------------------------------------------

note "building bin/adu2parquet"
go build -o bin/adu2parquet ./cmd/adu2parquet
BINS=("this tree:bin/adu2parquet")
if [ -n "$BASE" ]; then
	note "building adu2parquet at $BASE"
	mkdir "$TMP/base"
	git archive "$BASE" | tar -x -C "$TMP/base"
	(cd "$TMP/base" && go build -o "$TMP/adu2parquet-base" ./cmd/adu2parquet)
	BINS=("$BASE:$TMP/adu2parquet-base" "${BINS[@]}")
fi

# --- 2. captures ----------------------------------------------------------------

mkdir -p "$OUT"
FLOOD=$OUT/flood-1m.pcap
JUMPS=$OUT/jumps-100k.pcap
PARAMS=$OUT/flood.params
params() {
	echo "flood: -syns 1000000 -real 1000; jumps: -jumpers 100000 -jump-segs 40"
	sha256sum scripts/mkflood/*.go internal/flood/*.go
}
params >"$TMP/params"
if [ -f "$FLOOD" ] && [ -f "$JUMPS" ] && [ -f "$PARAMS" ] && cmp -s "$TMP/params" "$PARAMS"; then
	note "reusing $FLOOD and $JUMPS"
else
	rm -f "$PARAMS"
	go run ./scripts/mkflood -o "$FLOOD" -syns 1000000 -real 1000
	go run ./scripts/mkflood -o "$JUMPS" -jumpers 100000 -jump-segs 40
	mv "$TMP/params" "$PARAMS"
fi

# --- 3. runs ----------------------------------------------------------------------

ROWS=()

# measure NAME BIN ARGS...: run BIN once under /usr/bin/time and add a row.
measure() {
	local name=$1 bin=$2 line rss peak=0 shed=0 early=0 engine=n/a
	shift 2
	rm -rf "$TMP/archive"
	if ! "$TIME" -f %M -o "$TMP/rss" "$bin" "$@" >/dev/null 2>"$TMP/err"; then
		cat "$TMP/err" >&2
		die "$name: $bin $* failed"
	fi
	rss=$(tail -n1 "$TMP/rss")
	while IFS= read -r line; do
		[[ $line =~ peak\ table\ ([0-9]+) ]] && peak=${BASH_REMATCH[1]}
		[[ $line =~ engine\ memory:\ peak\ ([0-9.]+\ MiB) ]] && engine=${BASH_REMATCH[1]}
		[[ $line =~ connections\ shed.*:\ ([0-9]+)$ ]] && shed=${BASH_REMATCH[1]}
		[[ $line =~ held\ ADUs\ released\ before.*:\ ([0-9]+)$ ]] && early=${BASH_REMATCH[1]}
	done <"$TMP/err"
	local per=n/a
	[ "$peak" -gt 0 ] && per=$((rss * 1024 / peak))
	ROWS+=("| $name | $((rss / 1024)) | $peak | $per | $shed | $early | $engine |")
	note "$name: peak RSS $((rss / 1024)) MiB, peak table $peak"
}

for b in "${BINS[@]}"; do
	label=${b%%:*} bin=${b#*:}
	extra=()
	[ "$label" = "this tree" ] && extra=("${EXTRA[@]}")
	measure "$label: flood, adudump text" "$bin" "${extra[@]}" --format adudump "$FLOOD"
	measure "$label: flood, archive" "$bin" "${extra[@]}" --out "$TMP/archive" --sensor flood "$FLOOD"
	measure "$label: jumps, adudump text" "$bin" "${extra[@]}" --format adudump "$JUMPS"
done

# --- 4. per-entry costs ---------------------------------------------------------------

note "go test -run TestMemoryCosts"
go test -count=1 -run '^TestMemoryCosts$' -v ./internal/ingest >"$TMP/costs" 2>&1 || {
	cat "$TMP/costs" >&2
	die "TestMemoryCosts failed"
}

# --- 5. report ------------------------------------------------------------------------

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git diff --quiet HEAD 2>/dev/null; then
	commit="$commit (uncommitted changes)"
fi
{
	echo "## Memory under a SYN flood"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $commit; $(go version | cut -d' ' -f3-); $(nproc) CPU(s)"
	echo "- inputs: \`$FLOOD\` (1,000,000 SYNs, 1,000 real connections), \`$JUMPS\` (100,000 connections with sequence jumps)"
	echo "- flags: defaults${FLOOD_ARGS:+ (this tree: $FLOOD_ARGS)}"
	echo
	echo "| case | peak RSS MiB | peak table | RSS bytes per entry | connections shed | held ADUs released early | engine's peak account |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "### Go heap per entry (\`go test ./internal/ingest -run TestMemoryCosts -v\`)"
	echo
	echo '```'
	grep -E 'bytes per connection|a hole set|a held ADU' "$TMP/costs" | sed 's/^ *memory_test.go:[0-9]*: //'
	echo '```'
} >"$OUT/flood.md.tmp"
mv "$OUT/flood.md.tmp" "$OUT/flood.md"
cat "$OUT/flood.md"
