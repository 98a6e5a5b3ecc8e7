#!/usr/bin/env bash
# oracle.sh - regenerate the golden per-connection oracle files
#
#   testdata/oracle/<capture file name>.tsv      one line per TCP connection
#   testdata/oracle/<capture file name>.summary  tool counts, notes, cross-check
#
# for every capture in testdata/pcaps (or only the captures named on the
# command line), from established tools rather than abt itself:
#
#   * tcptrace 6.6.7 `tcptrace -l -n -r FILE` when it reads the whole capture
#     (it traced as many TCP packets as tshark sees with a full TCP header);
#   * otherwise tshark per-packet fields
#     (`tshark -r FILE -n -Y 'tcp && !icmp && !icmpv6' -T fields ...`)
#     aggregated per tcp.stream by scripts/oraclegen (stdlib-only Go).
#
# Both are always run; the .summary records which one produced the .tsv, why,
# and how the other one disagrees. .gz captures are decompressed to a temp
# file first. Columns and their exact meaning: see scripts/oraclegen/main.go
# and testdata/README.md. Needs tcptrace, tshark and go
# (scripts/install-tools.sh installs the tools).
#
# Usage (from anywhere):  scripts/oracle.sh [testdata/pcaps/FILE ...]
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
pcaps=testdata/pcaps
out=testdata/oracle

for t in tcptrace tshark go sha256sum; do
	command -v "$t" >/dev/null || {
		echo "oracle.sh: $t not found (run scripts/install-tools.sh)" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/oraclegen" ./scripts/oraclegen
og=$tmp/oraclegen

tcptrace_ver=$(tcptrace -v 2>&1 | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1)
tshark_ver=$(tshark --version 2>/dev/null | sed -n '1s/^TShark (Wireshark) \([^ ]*\).*/\1/p')
tshark_ver=${tshark_ver%.}
read -r -a tshark_fields <<<"$("$og" tshark-fields)"
tshark_filter='tcp && !icmp && !icmpv6'

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=("$pcaps"/*)
	# Full regeneration: drop oracle files of captures that no longer exist.
	mkdir -p "$out"
	rm -f "$out"/*.tsv "$out"/*.summary
fi
mkdir -p "$out"

for f in "${files[@]}"; do
	name=$(basename "$f")
	src=$pcaps/$name
	[ -f "$src" ] || {
		echo "oracle.sh: no such capture $src" >&2
		exit 1
	}
	in=$src
	if [[ $name == *.gz ]]; then
		in=$tmp/${name%.gz}
		gzip -dc "$src" >"$in"
	fi
	sum=$(sha256sum "$src" | cut -d' ' -f1)
	inname=$(basename "$in")
	gznote=""
	if [[ $name == *.gz ]]; then gznote=" ($inname = gzip -dc $name, in a temp dir)"; fi

	# tshark: always (fallback source and cross-check).
	tshark -r "$in" -n -Y "$tshark_filter" -T fields -E separator=/t -E occurrence=l \
		"${tshark_fields[@]}" >"$tmp/tshark.fields" 2>"$tmp/tshark.err" || {
		echo "oracle.sh: tshark failed on $src" >&2
		cat "$tmp/tshark.err" >&2
		exit 1
	}
	grep -v '^Running as user' "$tmp/tshark.err" >"$tmp/tshark.notes" || true
	"$og" tshark <"$tmp/tshark.fields" >"$tmp/tshark.tsv"
	tshark_conns=$(($(wc -l <"$tmp/tshark.tsv") - 1))
	tshark_pkts=$(awk -F'\t' 'NR > 1 { n += $7 + $8 } END { print n + 0 }' "$tmp/tshark.tsv")

	# tcptrace: may reject the link type or stop early.
	tt_rc=0
	tcptrace -l -n -r "$in" >"$tmp/tcptrace.out" 2>"$tmp/tcptrace.err" || tt_rc=$?
	# Drop lines naming the (temporary) input file and timing lines.
	grep -v -e 'arg remaining, starting with' -e '^Ostermann' -e '^$' "$tmp/tcptrace.err" >"$tmp/tcptrace.notes" || true
	tt_seen=$(sed -n 's/^\([0-9]*\) packets seen, \([0-9]*\) TCP packets traced.*/\1 \2/p' "$tmp/tcptrace.out")
	tt_traced=${tt_seen#* }
	tt_conns=$(sed -n 's/^\([0-9]*\) TCP connections\{0,1\} traced:$/\1/p' "$tmp/tcptrace.out")
	if [ -z "$tt_conns" ] && grep -qx 'no traced TCP packets' "$tmp/tcptrace.out"; then
		tt_conns=0
	fi
	tt_ok=1
	reason=""
	if [ "$tt_rc" -ne 0 ] || [ -z "$tt_seen" ] || [ -z "$tt_conns" ]; then
		tt_ok=0
		reason="tcptrace could not read the capture (exit $tt_rc, no connection list)"
	elif grep -q 'PCAP error' "$tmp/tcptrace.err"; then
		tt_ok=0
		reason="tcptrace stopped early on a libpcap error"
	elif [ "$tt_traced" != "$tshark_pkts" ]; then
		tt_ok=0
		reason="tcptrace traced $tt_traced TCP packets, tshark sees $tshark_pkts with a full TCP header"
	fi
	if [ -n "$tt_conns" ]; then
		"$og" tcptrace <"$tmp/tcptrace.out" >"$tmp/tcptrace.tsv"
	fi

	tsv=$out/$name.tsv
	summary=$out/$name.summary
	if [ "$tt_ok" -eq 1 ]; then
		{
			echo "# source: tcptrace $tcptrace_ver: tcptrace -l -n -r $inname$gznote; per connection: unique bytes sent, total packets, rexmt data bytes, SYN/FIN pkts sent; converted by scripts/oraclegen tcptrace"
			echo "# capture: testdata/pcaps/$name sha256 $sum"
			echo "# regenerate: scripts/oracle.sh testdata/pcaps/$name"
			cat "$tmp/tcptrace.tsv"
		} >"$tsv"
	else
		{
			echo "# source: tshark $tshark_ver fields + script: tshark -r $inname -n -Y '$tshark_filter' -T fields -E separator=/t -E occurrence=l ${tshark_fields[*]} | scripts/oraclegen tshark$gznote (per tcp.stream; unique = union of payload sequence ranges)"
			echo "# capture: testdata/pcaps/$name sha256 $sum"
			echo "# regenerate: scripts/oracle.sh testdata/pcaps/$name"
			cat "$tmp/tshark.tsv"
		} >"$tsv"
	fi

	{
		echo "capture: testdata/pcaps/$name"
		echo "sha256: $sum"
		if [[ $name == *.gz ]]; then echo "input: decompressed with gzip -dc to a temporary file"; fi
		if [ "$tt_ok" -eq 1 ]; then
			echo "oracle source: tcptrace $tcptrace_ver (tcptrace -l -n -r)"
		else
			echo "oracle source: tshark $tshark_ver fields + scripts/oraclegen tshark"
			echo "fallback reason: $reason"
		fi
		echo "oracle connections: $(($(grep -vc '^#' "$tsv") - 1))"
		echo
		echo "tcptrace $tcptrace_ver: exit $tt_rc;${tt_seen:+ $(echo "$tt_seen" | awk '{print $1 " packets seen, " $2 " TCP packets traced;"}')} raw connection count: ${tt_conns:-none}"
		hw=$(grep -c 'WARNING: presence of hardware duplicates' "$tmp/tcptrace.out" || true)
		if [ "$hw" -gt 0 ]; then echo "tcptrace: $hw connection(s) flagged with hardware duplicates"; fi
		if [ -s "$tmp/tcptrace.notes" ]; then
			echo "tcptrace stderr:"
			sed 's/^/  /' "$tmp/tcptrace.notes"
		fi
		echo "tshark $tshark_ver: $tshark_conns tcp.stream connection(s), $tshark_pkts TCP packets with a full TCP header (filter: $tshark_filter)"
		if [ -s "$tmp/tshark.notes" ]; then
			echo "tshark stderr:"
			sed 's/^/  /' "$tmp/tshark.notes"
		fi
		if [ -n "$tt_conns" ]; then
			echo
			if [ "$tt_ok" -eq 1 ]; then
				echo "cross-check, tcptrace (first) vs tshark fields + oraclegen (second), connections summed per endpoint pair:"
			else
				echo "cross-check of tcptrace's PARTIAL result (first; not used) vs tshark fields + oraclegen (second), connections summed per endpoint pair:"
			fi
			"$og" compare "$tmp/tcptrace.tsv" "$tmp/tshark.tsv" | sed 's/^/  /'
		fi
	} >"$summary"
	rm -f "$tmp"/tcptrace.* "$tmp"/tshark.*
	if [[ $name == *.gz ]]; then rm -f "$in"; fi
done
