#!/usr/bin/env bash
# query-bench.sh: time abtq's canned queries on a synthetic month archive,
# cold (a fresh abtq process each time, page cache dropped when permitted),
# and the one-server question asked of DuckDB over the same rows as gzip'd
# CSV. See docs/query-performance.md.
#
#   scripts/query-bench.sh [ADUS] [WORKDIR]
#
# ADUS defaults to 10000000; WORKDIR to /tmp/abt-bench. The archive
# (WORKDIR/archive-ADUS) and CSV (WORKDIR/adus-ADUS.csv.gz) are generated
# with abtgen (--servers 5000 --days 30 --seed 1) unless they exist. The
# results table is printed and written to WORKDIR/results-ADUS.md.
set -euo pipefail

ADUS=${1:-10000000}
WORK=${2:-/tmp/abt-bench}
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$WORK/bin
ARCH=$WORK/archive-$ADUS
CSV=$WORK/adus-$ADUS.csv.gz
OUT=$WORK/results-$ADUS.md
mkdir -p "$BIN"

(cd "$REPO" && go build -o "$BIN/abtq" ./cmd/abtq && go build -o "$BIN/abtgen" ./cmd/abtgen &&
	go build -o "$BIN/csvq" ./cmd/abtgen/csvq && go build -o "$BIN/adu2parquet" ./cmd/adu2parquet)

if [[ ! -f $ARCH.complete ]]; then
	rm -rf "$ARCH" "$CSV"
	"$BIN/abtgen" --out "$ARCH" --adus "$ADUS" --servers 5000 --days 30 --seed 1 --csv "$CSV"
	touch "$ARCH.complete"
fi
# abtgen builds the daily rollups; this brings an older archive up to date.
"$BIN/adu2parquet" rollup --out "$ARCH"

# Cold runs: drop the page cache before each run when permitted.
MODE=cold
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || MODE=warm; }
drop

now() { date +%s.%N; }

# bench NAME CMD...: runs CMD once, cold; records seconds and result rows
# (TSV lines minus the header).
declare -a NAMES SECS ROWS
bench() {
	local name=$1
	shift
	drop
	local t0 t1 out
	out=$(mktemp)
	t0=$(now)
	"$@" >"$out"
	t1=$(now)
	NAMES+=("$name")
	SECS+=("$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f')")
	ROWS+=("$(($(wc -l <"$out") - 1))")
	echo "$name: ${SECS[-1]} s, ${ROWS[-1]} rows" >&2
	rm -f "$out"
}

Q=("$BIN/abtq" --archive "$ARCH" --format tsv)
bench adu-sizes "${Q[@]}" adu-sizes
bench exchanges "${Q[@]}" exchanges
bench response-times "${Q[@]}" response-times
bench response-time-cdf "${Q[@]}" response-time-cdf
bench top-servers "${Q[@]}" top-servers
bench conn-buckets "${Q[@]}" conn-buckets
bench conn-list "${Q[@]}" conn-list
bench syn-attempts "${Q[@]}" syn-attempts
bench runs "${Q[@]}" runs
# The three rollup queries from the ADU rows, for comparison.
bench "adu-sizes --exact" "${Q[@]}" adu-sizes --exact
bench "response-times --exact" "${Q[@]}" response-times --exact
bench "response-time-cdf --exact" "${Q[@]}" response-time-cdf --exact
bench "top-servers --exact" "${Q[@]}" top-servers --exact

# One server over the whole month: the busiest, and the 100th.
read -r S1 P1 < <("${Q[@]}" top-servers --limit 1 | awk 'NR == 2 { print $1, $2 }')
read -r S100 P100 < <("${Q[@]}" top-servers --limit 100 | awk 'NR == 101 { print $1, $2 }')
bench "one server, month (busiest $S1:$P1)" "${Q[@]}" response-time-cdf --server "$S1" --port "$P1"
bench "one server, month (100th $S100:$P100)" "${Q[@]}" response-time-cdf --server "$S100" --port "$P100"
bench "one server, month, --exact (busiest)" "${Q[@]}" response-time-cdf --server "$S1" --port "$P1" --exact

# The same questions over the gzip'd CSV, through DuckDB's CSV reader.
RTCDF=$(sed -e "s/\$period/'day'/; s/\$from/TIMESTAMP '1900-01-01'/; s/\$to/TIMESTAMP '9999-01-01'/" \
	"$REPO/queries/response-time-cdf.sql")
one() { sed -e "s/CAST(\$server AS VARCHAR)/'$1'/g; s/\$server/'$1'/g; s/CAST(\$port AS INTEGER)/$2/g; s/\$port/$2/g" <<<"$RTCDF"; }
bench "csv: one server, month (busiest)" "$BIN/csvq" "$CSV" "$(one "$S1" "$P1")"
bench "csv: one server, month (100th)" "$BIN/csvq" "$CSV" "$(one "$S100" "$P100")"
ADUSIZES=$(sed -e "s/\$from/TIMESTAMP '1900-01-01'/; s/\$to/TIMESTAMP '9999-01-01'/; s/\$server/NULL/g; s/\$port/NULL/g; s/\$direction/NULL/g" \
	"$REPO/queries/adu-sizes.sql")
bench "csv: adu-sizes" "$BIN/csvq" "$CSV" "$ADUSIZES"

{
	echo "Scale: $ADUS ADUs, $("${Q[@]}" sql 'SELECT count(*) FROM connections' | tail -1) connections," \
		"archive $(du -sh "$ARCH" | cut -f1), CSV $(du -sh "$CSV" | cut -f1); $MODE runs; $(nproc) cores."
	echo
	echo "| query | seconds | rows |"
	echo "|---|---:|---:|"
	for i in "${!NAMES[@]}"; do
		echo "| ${NAMES[$i]} | ${SECS[$i]} | ${ROWS[$i]} |"
	done
	echo
	n=${#NAMES[@]}
	echo "CSV / archive, one server (busiest): $(echo "${SECS[$((n - 3))]} / ${SECS[$((n - 6))]}" | bc -l | xargs printf '%.1f')x;" \
		"(100th): $(echo "${SECS[$((n - 2))]} / ${SECS[$((n - 5))]}" | bc -l | xargs printf '%.1f')x;" \
		"adu-sizes: $(echo "${SECS[$((n - 1))]} / ${SECS[0]}" | bc -l | xargs printf '%.1f')x."
} | tee "$OUT"
