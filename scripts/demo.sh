#!/usr/bin/env bash
# demo.sh - build adu2parquet and run it on a bundled sample capture.
#
# Usage: scripts/demo.sh [capture] [adu2parquet flags...]
# Default: the HTTP/1.1 keep-alive capture with 1,000 requests over IPv6
# (testdata/pcaps/zeek_http_1000-requests-one-dropped-response.pcap.gz).
# The a-b-t records go to standard output (first 25 lines shown), the run's
# summary to standard error.
set -euo pipefail
cd "$(dirname "$0")/.."

sample=${1:-testdata/pcaps/zeek_http_1000-requests-one-dropped-response.pcap.gz}
shift || true
mkdir -p bin
go build -buildvcs=auto -o bin/adu2parquet ./cmd/adu2parquet
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bin/adu2parquet --format adudump "$@" "$sample" >"$out"
head -n 25 "$out"
echo "... ($(wc -l <"$out") records in all)"
echo
echo "== archiving the same capture under ./archive (sensor demo)"
bin/adu2parquet --out archive --sensor demo --replace "$@" "$sample"
find archive -name '*.parquet' | sort
