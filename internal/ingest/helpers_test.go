package ingest_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// A scripted connection between client 5.6.7.8:62015 and server
// 1.2.3.4:443 (the paper's Table 2 endpoints). Times are microseconds
// after base; sequence and acknowledgement numbers are relative to each
// side's ISN (the SYN itself is relative 0, the first data byte 1).
var (
	client = netip.MustParseAddrPort("5.6.7.8:62015")
	server = netip.MustParseAddrPort("1.2.3.4:443")
)

const base = int64(1202706002_000000) // µs

type step struct {
	us    int64  // time: µs after base
	c2s   bool   // sent by the client
	flags string // any of S A F R P
	seq   uint32 // relative to the sender's ISN
	ack   uint32 // relative to the receiver's ISN
	n     uint32 // payload bytes
}

// script builds segments from steps with the given ISNs.
type script struct {
	isnC, isnS uint32
	c, s       netip.AddrPort
}

func newScript() script {
	return script{isnC: 1000, isnS: 5000, c: client, s: server}
}

func (sc script) seg(st step) decode.Segment {
	var f uint8
	for _, ch := range st.flags {
		switch ch {
		case 'S':
			f |= decode.FlagSYN
		case 'A':
			f |= decode.FlagACK
		case 'F':
			f |= decode.FlagFIN
		case 'R':
			f |= decode.FlagRST
		case 'P':
			f |= decode.FlagPSH
		}
	}
	s := decode.Segment{TsNs: (base + st.us) * 1000, Flags: f, PayloadLen: st.n, WScale: -1}
	if st.c2s {
		s.Src, s.SrcPort, s.Dst, s.DstPort = sc.c.Addr(), sc.c.Port(), sc.s.Addr(), sc.s.Port()
		s.Seq, s.Ack = sc.isnC+st.seq, sc.isnS+st.ack
	} else {
		s.Src, s.SrcPort, s.Dst, s.DstPort = sc.s.Addr(), sc.s.Port(), sc.c.Addr(), sc.c.Port()
		s.Seq, s.Ack = sc.isnS+st.seq, sc.isnC+st.ack
	}
	return s
}

// handshake returns the steps of a three-way handshake at t, t+30000, t+30100.
func handshake(t int64) []step {
	return []step{
		{us: t, c2s: true, flags: "S"},
		{us: t + 30000, flags: "SA", ack: 1},
		{us: t + 30100, c2s: true, flags: "A", seq: 1, ack: 1},
	}
}

// run feeds steps to a fresh engine and returns its text output and stats.
func run(t *testing.T, opts ingest.Options, sc script, steps ...[]step) (string, ingest.Stats, []ingest.Record) {
	t.Helper()
	var buf bytes.Buffer
	w := adutext.NewWriter(&buf)
	var recs []ingest.Record
	e, err := ingest.New(opts, ingest.SinkFunc(func(r *ingest.Record) error {
		recs = append(recs, *r)
		return w.Record(r)
	}))
	require.NoError(t, err)
	for _, ss := range steps {
		for _, st := range ss {
			s := sc.seg(st)
			require.NoError(t, e.Process(&s))
		}
	}
	require.NoError(t, e.Finish())
	require.NoError(t, w.Flush())
	return buf.String(), e.Stats(), recs
}

// lines joins expected lines, each followed by a newline.
func lines(ls ...string) string {
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}

// l formats one expected line of the scripted connection: kind, time (µs
// after base), direction as printed ('<' client→server, '>' server→client
// with the server printed first) and the trailer.
func l(kind string, us int64, dir string, trailer string) string {
	t := base + us
	s := kind + ": " + fmtUS(t) + " 1.2.3.4.443 " + dir + " 5.6.7.8.62015"
	if trailer != "" {
		s += " " + trailer
	}
	return s
}

func fmtUS(us int64) string {
	frac := us % 1_000_000
	b := []byte{}
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return itoa(us/1_000_000) + "." + string(b)
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

// hs is the standard handshake's expected lines.
var hs = []string{
	l("SYN", 0, "<", ""),
	l("RTT", 30000, ">", "0.030000"),
	l("SEQ", 30100, "<", ""),
}

func with(prefix []string, more ...string) string {
	return lines(append(append([]string{}, prefix...), more...)...)
}
