package adutext

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

func TestAppendRecord(t *testing.T) {
	srv := netip.MustParseAddrPort("1.2.3.4:443")
	cli := netip.MustParseAddrPort("5.6.7.8:62015")
	v6s := netip.MustParseAddrPort("[2001:db8::1]:80")
	v6c := netip.MustParseAddrPort("[2001:db8::2]:5000")
	tests := []struct {
		name string
		rec  ingest.Record
		want string
	}{
		{"request ADU with think time, server first",
			ingest.Record{Kind: ingest.KindADU, TsNs: 1202706002_688748_000, Client: cli, Server: srv, Dir: ingest.DirC2S,
				Size: 163, ThinkNs: 542_000, LastNs: 1202706002_688206_000},
			"ADU: 1202706002.688748 1.2.3.4.443 < 5.6.7.8.62015 163 SEQ 0.000542\n"},
		{"think time from microsecond-truncated times",
			ingest.Record{Kind: ingest.KindADU, TsNs: 10_000_000_999, Client: cli, Server: srv, Dir: ingest.DirS2C,
				Size: 1, Concurrent: true, ThinkNs: 1_999, LastNs: 9_999_999_000},
			"ADU: 10.000000 1.2.3.4.443 > 5.6.7.8.62015 1 CONC 0.000001\n"},
		{"no think time",
			ingest.Record{Kind: ingest.KindADU, TsNs: 5e9, Client: cli, Server: srv, Dir: ingest.DirS2C, Size: 59, ThinkNs: -1},
			"ADU: 5.000000 1.2.3.4.443 > 5.6.7.8.62015 59 SEQ\n"},
		{"INC never prints a think time",
			ingest.Record{Kind: ingest.KindINC, TsNs: 5e9, Client: cli, Server: srv, Dir: ingest.DirC2S, Size: 7, ThinkNs: 3},
			"INC: 5.000000 1.2.3.4.443 < 5.6.7.8.62015 7 SEQ\n"},
		{"RTT",
			ingest.Record{Kind: ingest.KindRTT, TsNs: 1_030_000_000, RTTNs: 30_000_000, Client: cli, Server: srv, Dir: ingest.DirS2C},
			"RTT: 1.030000 1.2.3.4.443 > 5.6.7.8.62015 0.030000\n"},
		{"outbound connection prints the local client first",
			ingest.Record{Kind: ingest.KindSYN, TsNs: 1e9, Client: cli, Server: srv, Dir: ingest.DirC2S, Label: ingest.LabelOut},
			"SYN: 1.000000 5.6.7.8.62015 > 1.2.3.4.443\n"},
		{"IPv6",
			ingest.Record{Kind: ingest.KindEND, TsNs: 2e9, Client: v6c, Server: v6s, Dir: ingest.DirC2S},
			"END: 2.000000 2001:db8::1.80 < 2001:db8::2.5000\n"},
		{"before the epoch",
			ingest.Record{Kind: ingest.KindSYN, TsNs: -1_500_000_001, Client: cli, Server: srv, Dir: ingest.DirC2S},
			"SYN: -1.500001 1.2.3.4.443 < 5.6.7.8.62015\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, string(AppendRecord(nil, &tc.rec)))
		})
	}
}
