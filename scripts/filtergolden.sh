#!/usr/bin/env bash
# filtergolden.sh - writes internal/capture/live/testdata/filters.golden:
# for each filter expression and each Ethernet or raw-IP bundled capture,
# how many packets tcpdump (libpcap's compiler) keeps. TestFilterAgainstTcpdump
# compares what the filters compiled by internal/capture/live keep with
# these counts. Needs tcpdump (scripts/install-tools.sh tcpdump).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v tcpdump >/dev/null || scripts/install-tools.sh tcpdump
out=internal/capture/live/testdata/filters.golden
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
captures=(arkime_wireshark-retrans.pcap chrissanders_synscan.pcapng gopacket_cip.pcap mercury_emix.pcap
	pcapplusplus_four_ipv6_http_streams.pcap pcapplusplus_raw_ip.pcap suricata_syn_retransmit_with_ts.pcap
	trex_Oracle.pcap zeek_ftp_ipv6.pcap zeek_http_bro.org.pcap zeek_smtp.pcap zeek_ssh.pcap)
exprs=(
	"tcp" "udp" "icmp" "ip" "ip6" "arp" "sctp"
	"port 80" "tcp port 80" "udp port 53" "src port 80" "dst port 25" "port 21 or port 20"
	"portrange 1-1023" "tcp portrange 20-22" "dst portrange 3000-4000"
	"host 10.0.2.15" "src host 10.0.2.15" "dst host 192.150.187.43" "ip host 10.4.10.222"
	"net 10.0.0.0/8" "src net 10.4.0.0/16" "dst net 192.0.0.0/4" "net 2001:470::/32"
	"host 2001:470:4867:99::21" "src host 2001:618:400::5199:cc70" "ip6 dst net 2001:618:1::/48"
	"ip6 and tcp" "tcp and not port 80" "(tcp or udp) and not port 22" "not ip" "! tcp && ! udp"
	"tcp and (port 80 or port 443) and not src net 10.0.0.0/8" "src 10.4.10.204" "udp or icmp or arp"
	"tcp[13] & 2 != 0" "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0" "tcp[tcpflags] = tcp-syn|tcp-ack"
	"tcp[tcpflags] & tcp-rst != 0 or tcp[tcpflags] & tcp-push != 0" "ip[2:2] > 576" "ip[8] < 64" "ip6[6] = 6"
	"ip6[7] >= 64 and tcp" "ether[0] & 1 = 0" "ether[12:2] = 0x86dd" "udp[0:2] = 53 or udp[2:2] = 53"
	"icmp[icmptype] = icmp-echo or icmp[icmptype] = icmp-echoreply" "greater 1000" "less 64" "len > 100 and len <= 1500"
	"(tcp[12] >> 4) * 4 > 20" "tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420" "ip[0] & 0xf != 5" "ip[6:2] & 0x1fff != 0"
	"tcp[2:2] % 2 = 0" "len - 14 >= 40" "(tcp[13] & 2) != 0 and not (udp or icmp)" "arp[7] = 1" "ip[1] ^ 0 = 0"
	"ip[3] * 2 + 4 < ip[2:2] - 0x10" "tcp[14:2] / 256 > 0" "ip[8] + -1 < 63" "- ip[8] > - 64"
)
{
	printf '# expression\tcapture\tpackets tcpdump keeps (scripts/filtergolden.sh)\n'
	for e in "${exprs[@]}"; do
		for c in "${captures[@]}"; do
			# "-": libpcap refuses the expression for the capture's link type.
			if tcpdump -nn -r "testdata/pcaps/$c" "$e" >"$tmp" 2>/dev/null; then
				n=$(wc -l <"$tmp")
			else
				n=-
			fi
			printf '%s\t%s\t%s\n' "$e" "$c" "$n"
		done
	done
} >"$out"
echo "wrote $out ($(grep -vc '^#' "$out") counts)"
