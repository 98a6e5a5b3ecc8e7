#!/usr/bin/env bash
# size-report.sh - the archive size report of docs/archive-size.md.
#
# Builds two captures from the bundled ones with scripts/mkbench and runs
# scripts/sizereport on each: bench/dense-1m.pcap, 1,000,000 packets of nine
# captures replayed nine times with 2 s between starts (a busy link's
# density); and bench/real.pcap, every bundled capture except the synthetic
# echo load and the scans, about once (content that does not repeat).
# Needs gzip and zstd (scripts/install-tools.sh installs zstd if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
command -v zstd >/dev/null || apt-get install -y -q zstd >/dev/null
pc=testdata/pcaps
go run ./scripts/mkbench -o bench/dense-1m.pcap -packets 1000000 -max-gap 10s -stagger 2s \
	$pc/zeek_echo-connections.pcap.gz $pc/pcapplusplus_example.pcap $pc/slips_test-cc-capture-1.pcap \
	$pc/zeek_http_bro.org.pcap $pc/trex_Oracle.pcap $pc/evilfingers_TCP_CONNECT_SCAN.pcap \
	$pc/zeek_http_1000-requests-one-dropped-response.pcap.gz $pc/chrissanders_http_espn.pcapng $pc/zeek_ssh.pcap
real=()
for f in $pc/*; do
	case $f in *echo*|*synscan*|*CONNECT_SCAN*|*snap40*) continue ;; esac
	real+=("$f")
done
go run ./scripts/mkbench -o bench/real.pcap -packets 230000 -max-gap 10s -stagger 1s "${real[@]}"
echo "## dense, repeating (1,000,000 packets)"
go run ./scripts/sizereport bench/dense-1m.pcap
echo
echo "## non-repeating (the bundled captures about once)"
go run ./scripts/sizereport bench/real.pcap
