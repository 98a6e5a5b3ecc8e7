package oracle

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const hdr = "a_addr\ta_port\tb_addr\tb_port\ta2b_unique_bytes\tb2a_unique_bytes\ta2b_pkts\tb2a_pkts\ta2b_rexmt_bytes\tb2a_rexmt_bytes\tsyn_seen\n"

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.tsv")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestLoad(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name    string
		content string
		want    []Conn
		wantErr string
	}{
		{
			name:    "header only",
			content: "# source: test\n" + hdr,
			want:    nil,
		},
		{
			name: "ipv4 and ipv6 with comments",
			content: "# source: tcptrace 6.6.7\n# capture: x\n" + hdr +
				"10.0.0.1\t1234\t10.0.0.2\t80\t100\t2000\t5\t6\t7\t0\t1\n" +
				"# a comment in between\n\n" +
				"2001:db8::1\t443\t::1\t50000\t0\t18446744073709551615\t1\t0\t0\t3\t0\n",
			want: []Conn{
				{A: ap("10.0.0.1:1234"), B: ap("10.0.0.2:80"), AtoBBytes: 100, BtoABytes: 2000, AtoBPkts: 5, BtoAPkts: 6, AtoBRexmt: 7, SYN: true},
				{A: ap("[2001:db8::1]:443"), B: ap("[::1]:50000"), BtoABytes: 1<<64 - 1, AtoBPkts: 1, BtoARexmt: 3},
			},
		},
		{
			name:    "duplicate endpoint pairs are kept",
			content: hdr + "1.2.3.4\t1\t5.6.7.8\t2\t1\t2\t3\t4\t5\t6\t0\n1.2.3.4\t1\t5.6.7.8\t2\t0\t0\t1\t1\t0\t0\t1\n",
			want: []Conn{
				{A: ap("1.2.3.4:1"), B: ap("5.6.7.8:2"), AtoBBytes: 1, BtoABytes: 2, AtoBPkts: 3, BtoAPkts: 4, AtoBRexmt: 5, BtoARexmt: 6},
				{A: ap("1.2.3.4:1"), B: ap("5.6.7.8:2"), AtoBPkts: 1, BtoAPkts: 1, SYN: true},
			},
		},
		{name: "empty file", content: "", wantErr: "no column header"},
		{name: "missing header", content: "1.2.3.4\t1\t5.6.7.8\t2\t1\t2\t3\t4\t5\t6\t0\n", wantErr: "want column header"},
		{name: "too few fields", content: hdr + "1.2.3.4\t1\t5.6.7.8\t2\t1\t2\t3\t4\t5\t6\n", wantErr: "10 fields, want 11"},
		{name: "bad address", content: hdr + "1.2.3\t1\t5.6.7.8\t2\t1\t2\t3\t4\t5\t6\t0\n", wantErr: "x.tsv:2:"},
		{name: "non-canonical ipv6", content: hdr + "2001:0db8::0001\t1\t5.6.7.8\t2\t1\t2\t3\t4\t5\t6\t0\n", wantErr: "not canonical"},
		{name: "port out of range", content: hdr + "1.2.3.4\t65536\t5.6.7.8\t2\t1\t2\t3\t4\t5\t6\t0\n", wantErr: "port"},
		{name: "negative count", content: hdr + "1.2.3.4\t1\t5.6.7.8\t2\t-1\t2\t3\t4\t5\t6\t0\n", wantErr: "column 5"},
		{name: "bad syn", content: hdr + "1.2.3.4\t1\t5.6.7.8\t2\t1\t2\t3\t4\t5\t6\ttrue\n", wantErr: "syn_seen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(writeTemp(t, tt.content))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.tsv"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestKey(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		x, y string
		want [2]string
	}{
		{"10.0.0.2:80", "10.0.0.1:1234", [2]string{"10.0.0.1:1234", "10.0.0.2:80"}},
		{"10.0.0.1:1234", "10.0.0.2:80", [2]string{"10.0.0.1:1234", "10.0.0.2:80"}},
		{"[::1]:8080", "[::1]:58799", [2]string{"[::1]:8080", "[::1]:58799"}},
		{"[::1]:1", "9.9.9.9:1", [2]string{"9.9.9.9:1", "[::1]:1"}},
		{"1.1.1.1:5", "1.1.1.1:5", [2]string{"1.1.1.1:5", "1.1.1.1:5"}},
	}
	for _, tt := range tests {
		x, y := ap(tt.x), ap(tt.y)
		want := [2]netip.AddrPort{ap(tt.want[0]), ap(tt.want[1])}
		require.Equal(t, want, Key(x, y), "%s %s", tt.x, tt.y)
		require.Equal(t, Key(x, y), Key(y, x))
	}
}

// TestOracleFiles checks that every capture in testdata/pcaps has an oracle
// file that parses, names its source tool and agrees with its .summary.
func TestOracleFiles(t *testing.T) {
	const pcaps, dir = "../../testdata/pcaps", "../../testdata/oracle"
	captures, err := os.ReadDir(pcaps)
	require.NoError(t, err)
	require.NotEmpty(t, captures)
	files, err := filepath.Glob(filepath.Join(dir, "*.tsv"))
	require.NoError(t, err)
	require.Len(t, files, len(captures), "one oracle file per capture")

	for _, c := range captures {
		name := c.Name()
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".tsv")
			conns, err := Load(path)
			require.NoError(t, err)

			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			first, err := bufio.NewReader(f).ReadString('\n')
			require.NoError(t, err)
			require.True(t,
				strings.HasPrefix(first, "# source: tcptrace ") || strings.HasPrefix(first, "# source: tshark "),
				"first line names the tool: %q", first)

			summary, err := os.ReadFile(filepath.Join(dir, name+".summary"))
			require.NoError(t, err)
			var n = -1
			for _, l := range strings.Split(string(summary), "\n") {
				if s, ok := strings.CutPrefix(l, "oracle connections: "); ok {
					n, err = strconv.Atoi(s)
					require.NoError(t, err)
				}
			}
			require.Equal(t, n, len(conns), "connection count in .summary")

			for _, c := range conns {
				require.True(t, c.A.IsValid() && c.B.IsValid())
				require.Equal(t, c.A.Addr().Is4(), c.B.Addr().Is4(), "mixed address families: %v %v", c.A, c.B)
			}
		})
	}
}
