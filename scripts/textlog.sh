#!/usr/bin/env bash
# textlog.sh - the figures of issue 9 (item 1) on the synthetic campus
# capture: response times of the campus server 198.18.0.1:443 from the
# archive made from the capture (A) and from the archive made from the
# capture's adudump text (B). Run from anywhere in the repository (it
# changes to the repository root):
#
#   scripts/textlog.sh                                   # the test's capture
#   TEXTLOG_WEB=2000 scripts/textlog.sh                  # more connections to the server
#   TEXTLOG_BIN="/tmp/old/adu2parquet" scripts/textlog.sh   # B made by another build
#
# Steps:
#  1. build bin/adu2parquet and bin/abtq;
#  2. write bench/campus-W.pcap with scripts/mkcampus (W = TEXTLOG_WEB
#     connections to the server, default 400 as in the round-trip test
#     cmd/abtq/textlog_test.go; the other defaults of synthcap.DefaultCampus);
#  3. archive it into bench/textlog-a (A); write its adudump text
#     (bench/campus-W.adu) and archive that into bench/textlog-b (B), with
#     TEXTLOG_BIN when set (a build of an older commit shows the figures
#     before a change);
#  4. print abtq response-times --exact for the server from A and from B
#     (response times measured, nearest-rank quantiles, max, in ms).
#
# Needs Go and bash. Deterministic: the same W gives the same figures.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

WEB=${TEXTLOG_WEB:-400}
OUT=bench
A=$OUT/textlog-a
B=$OUT/textlog-b

note() { echo "textlog.sh: $*" >&2; }

[[ $WEB =~ ^[0-9]+$ ]] || {
	note "TEXTLOG_WEB=$WEB: want a number"
	exit 1
}
mkdir -p "$OUT" bin
note "building bin/adu2parquet, bin/abtq"
go build -o bin/adu2parquet ./cmd/adu2parquet
go build -o bin/abtq ./cmd/abtq
TEXT_BIN=${TEXTLOG_BIN:-bin/adu2parquet}

pcap=$OUT/campus-$WEB.pcap
note "writing $pcap"
go run ./scripts/mkcampus -o "$pcap" -web "$WEB"

rm -rf "$A" "$B"
bin/adu2parquet -q --out "$A" --sensor campus "$pcap"
bin/adu2parquet -q --format adudump "$pcap" >"$OUT/campus-$WEB.adu"
"$TEXT_BIN" --out "$B" --sensor campus "$OUT/campus-$WEB.adu" 2>"$OUT/textlog-b.summary"

for x in A B; do
	dir=$A
	[ "$x" = B ] && dir=$B
	echo "== $x ($dir)"
	bin/abtq --archive "$dir" --format table response-times --server 198.18.0.1 --port 443 --exact
done
echo "== B's run ($TEXT_BIN): text lines the reader could not decide"
grep -E "think_to_peer|next line|released" "$OUT/textlog-b.summary" || echo "(none)"
