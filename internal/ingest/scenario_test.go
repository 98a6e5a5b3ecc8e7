package ingest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

// concurrentSteps: both sides send without waiting. The client's second
// segment (100600) does not acknowledge the server's data, so the
// connection is found concurrent only after the sequential rule cut the
// client's first 100 bytes off at 100500.
var concurrentSteps = []step{
	{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
	{us: 100500, flags: "PA", seq: 1, ack: 101, n: 200},
	{us: 100600, c2s: true, flags: "PA", seq: 101, ack: 1, n: 100},
	{us: 100700, flags: "PA", seq: 201, ack: 101, n: 200},
	{us: 100800, c2s: true, flags: "PA", seq: 201, ack: 201, n: 100},
	{us: 2000000, c2s: true, flags: "PA", seq: 301, ack: 401, n: 50},
	{us: 2100000, flags: "PA", seq: 401, ack: 351, n: 10},
	{us: 2200000, c2s: true, flags: "RA", seq: 351, ack: 411},
}

// Hand-worked packet sequences, one per inference rule. Each expected output
// was worked out by hand from the rule it names (see docs/inference.md).
func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(*ingest.Options)
		sc    func(*script)
		steps []step
		want  string
	}{
		{
			name: "quiet split in the client direction",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 700000, c2s: true, flags: "PA", seq: 101, ack: 1, n: 50},
				{us: 710000, flags: "PA", seq: 1, ack: 151, n: 300},
				{us: 800000, c2s: true, flags: "FA", seq: 151, ack: 301},
				{us: 810000, flags: "FA", seq: 301, ack: 152},
			},
			want: with(hs,
				l("ADU", 700000, "<", "100 SEQ 0.600000"),
				l("ADU", 710000, "<", "50 SEQ 0.010000"),
				l("ADU", 810000, ">", "300 SEQ"),
				l("END", 810000, ">", "")),
		},
		{
			name: "a gap of exactly the quiet time does not split",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 600000, c2s: true, flags: "PA", seq: 101, ack: 1, n: 50},
				{us: 610000, flags: "PA", seq: 1, ack: 151, n: 300},
			},
			want: with(hs,
				l("ADU", 610000, "<", "150 SEQ 0.010000"),
				l("INC", 610000, ">", "300 SEQ"),
				l("END", 610000, ">", "")),
		},
		{
			name: "quiet split in the server direction",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 120000, flags: "PA", seq: 1, ack: 101, n: 1000},
				{us: 820000, flags: "PA", seq: 1001, ack: 101, n: 500},
				{us: 900000, c2s: true, flags: "PA", seq: 101, ack: 1501, n: 10},
				{us: 950000, c2s: true, flags: "RA", seq: 111, ack: 1501},
			},
			want: with(hs,
				l("ADU", 120000, "<", "100 SEQ 0.020000"),
				l("ADU", 820000, ">", "1000 SEQ 0.700000"),
				l("ADU", 900000, ">", "500 SEQ 0.080000"),
				l("ADU", 950000, "<", "10 SEQ"),
				l("END", 950000, "<", "")),
		},
		{
			name: "FIN carrying the request's last bytes waits for the reply's think time",
			steps: []step{
				{us: 100000, c2s: true, flags: "FPA", seq: 1, ack: 1, n: 100},
				{us: 150000, flags: "PA", seq: 1, ack: 102, n: 500},
				{us: 160000, flags: "FA", seq: 501, ack: 102},
				{us: 170000, c2s: true, flags: "A", seq: 102, ack: 502},
			},
			want: with(hs,
				l("ADU", 100000, "<", "100 SEQ 0.050000"),
				l("ADU", 160000, ">", "500 SEQ"),
				l("END", 160000, ">", "")),
		},
		{
			name: "FIN without data after the request",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 120000, c2s: true, flags: "FA", seq: 101, ack: 1},
				{us: 150000, flags: "PA", seq: 1, ack: 102, n: 500},
				{us: 160000, flags: "FA", seq: 501, ack: 102},
			},
			want: with(hs,
				l("ADU", 120000, "<", "100 SEQ 0.050000"),
				l("ADU", 160000, ">", "500 SEQ"),
				l("END", 160000, ">", "")),
		},
		{
			name: "FIN from the client does not end the server's open ADU",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 150000, flags: "PA", seq: 1, ack: 101, n: 500},
				{us: 160000, c2s: true, flags: "FA", seq: 101, ack: 501},
				{us: 170000, flags: "PA", seq: 501, ack: 102, n: 200},
				{us: 180000, flags: "FA", seq: 701, ack: 102},
			},
			want: with(hs,
				l("ADU", 150000, "<", "100 SEQ 0.050000"),
				l("ADU", 180000, ">", "700 SEQ"),
				l("END", 180000, ">", "")),
		},
		{
			name: "one-sided RST",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 150000, flags: "PA", seq: 1, ack: 101, n: 300},
				{us: 200000, flags: "RA", seq: 301, ack: 101},
				{us: 210000, c2s: true, flags: "A", seq: 101, ack: 301},
			},
			want: with(hs,
				l("ADU", 150000, "<", "100 SEQ 0.050000"),
				l("ADU", 200000, ">", "300 SEQ"),
				l("END", 200000, ">", "")),
		},
		{
			name: "SYN retry moves the RTT base",
			steps: []step{
				{us: 0, c2s: true, flags: "S"},
				{us: 1000000, c2s: true, flags: "S"},
				{us: 1030000, flags: "SA", ack: 1},
				{us: 1030100, c2s: true, flags: "A", seq: 1, ack: 1},
				{us: 1100000, c2s: true, flags: "RA", seq: 1, ack: 1},
			},
			want: lines(
				l("SYN", 0, "<", ""),
				l("RTT", 1030000, ">", "0.030000"),
				l("SEQ", 1030100, "<", ""),
				l("END", 1100000, "<", "")),
		},
		{
			name: "SYN refused with RST",
			steps: []step{
				{us: 0, c2s: true, flags: "S"},
				{us: 100, flags: "RA", ack: 1},
			},
			want: lines(l("SYN", 0, "<", ""), l("END", 100, ">", "")),
		},
		{
			name: "handshake ACK lost: the client's first data segment completes it",
			steps: []step{
				{us: 0, c2s: true, flags: "S"},
				{us: 30000, flags: "SA", ack: 1},
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 130000, flags: "PA", seq: 1, ack: 101, n: 300},
			},
			want: lines(
				l("SYN", 0, "<", ""),
				l("RTT", 30000, ">", "0.030000"),
				l("SEQ", 100000, "<", ""),
				l("ADU", 130000, "<", "100 SEQ 0.030000"),
				l("INC", 130000, ">", "300 SEQ"),
				l("END", 130000, ">", "")),
		},
		{
			name: "handshake ACK lost: the server speaks first",
			steps: []step{
				{us: 0, c2s: true, flags: "S"},
				{us: 30000, flags: "SA", ack: 1},
				{us: 100000, flags: "PA", seq: 1, ack: 1, n: 50},
				{us: 130000, c2s: true, flags: "PA", seq: 1, ack: 51, n: 10},
			},
			want: lines(
				l("SYN", 0, "<", ""),
				l("RTT", 30000, ">", "0.030000"),
				l("SEQ", 100000, ">", ""),
				l("ADU", 130000, ">", "50 SEQ 0.030000"),
				l("INC", 130000, "<", "10 SEQ"),
				l("END", 130000, "<", "")),
		},
		{
			name: "retransmission across a 500 ms gap (loss after the monitor) does not split",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 1000},
				{us: 700000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 1000},
				{us: 710000, c2s: true, flags: "PA", seq: 1001, ack: 1, n: 500},
				{us: 800000, flags: "PA", seq: 1, ack: 1501, n: 10},
			},
			want: with(hs,
				l("ADU", 800000, "<", "1500 SEQ 0.090000"),
				l("INC", 800000, ">", "10 SEQ"),
				l("END", 800000, ">", "")),
		},
		{
			name: "loss before the monitor: the hole counts and its late filler is not new data",
			steps: []step{
				{us: 100000, c2s: true, flags: "A", seq: 1, ack: 1, n: 1000},
				{us: 100100, c2s: true, flags: "PA", seq: 2001, ack: 1, n: 1000},
				{us: 400000, c2s: true, flags: "A", seq: 1001, ack: 1, n: 1000},
				{us: 450000, flags: "PA", seq: 1, ack: 3001, n: 10},
			},
			want: with(hs,
				l("ADU", 450000, "<", "3000 SEQ 0.050000"),
				l("INC", 450000, ">", "10 SEQ"),
				l("END", 450000, ">", "")),
		},
		{
			name: "tail loss before the monitor with a retransmission timeout beyond the quiet time splits",
			steps: []step{
				{us: 100000, c2s: true, flags: "A", seq: 1, ack: 1, n: 1000},
				{us: 700000, c2s: true, flags: "PA", seq: 1001, ack: 1, n: 1000},
				{us: 750000, flags: "PA", seq: 1, ack: 2001, n: 10},
			},
			want: with(hs,
				l("ADU", 700000, "<", "1000 SEQ 0.600000"),
				l("ADU", 750000, "<", "1000 SEQ 0.050000"),
				l("INC", 750000, ">", "10 SEQ"),
				l("END", 750000, ">", "")),
		},
		{
			name: "sequence numbers wrap at 2^32",
			sc:   func(s *script) { s.isnC = 0xffffff00; s.isnS = 0xfffffff0 },
			steps: []step{
				{us: 100000, c2s: true, flags: "A", seq: 1, ack: 1, n: 0x100},
				{us: 100100, c2s: true, flags: "PA", seq: 0x101, ack: 1, n: 0x100},
				{us: 150000, flags: "PA", seq: 1, ack: 0x201, n: 0x20},
				{us: 160000, c2s: true, flags: "PA", seq: 0x201, ack: 0x21, n: 1},
			},
			want: with(hs,
				l("ADU", 150000, "<", "512 SEQ 0.049900"),
				l("ADU", 160000, ">", "32 SEQ 0.010000"),
				l("INC", 160000, "<", "1 SEQ"),
				l("END", 160000, "<", "")),
		},
		{
			name: "a sequence jump beyond any window resynchronises instead of sticking",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 100100, c2s: true, flags: "PA", seq: 1 << 31, ack: 1, n: 100},
				{us: 100200, c2s: true, flags: "PA", seq: 1<<31 + 100, ack: 1, n: 100},
				{us: 150000, flags: "PA", seq: 1, ack: 1<<31 + 200, n: 10},
			},
			want: with(hs,
				l("ADU", 100100, "<", "100 SEQ"),
				l("ADU", 150000, "<", "200 SEQ 0.049800"),
				l("INC", 150000, ">", "10 SEQ"),
				l("END", 150000, ">", "")),
		},
		{
			name:  "concurrency found later re-joins the pieces the sequential rule cut",
			steps: concurrentSteps,
			want: with(hs,
				l("CONC", 100600, "<", ""),
				l("ADU", 2000000, "<", "300 CONC 1.899200"),
				l("ADU", 2100000, ">", "400 CONC 1.999300"),
				l("ADU", 2200000, "<", "50 CONC"),
				l("ADU", 2200000, ">", "10 CONC"),
				l("END", 2200000, "<", "")),
		},
		{
			name:  "without holding, concurrency found later leaves the early piece cut (the original's behaviour)",
			opts:  func(o *ingest.Options) { o.Hold = 0 },
			steps: concurrentSteps,
			want: with(hs,
				l("ADU", 100500, "<", "100 SEQ 0.000500"),
				l("CONC", 100600, "<", ""),
				l("ADU", 2000000, "<", "200 CONC 1.899200"),
				l("ADU", 2100000, ">", "400 CONC 1.999300"),
				l("ADU", 2200000, "<", "50 CONC"),
				l("ADU", 2200000, ">", "10 CONC"),
				l("END", 2200000, "<", "")),
		},
		{
			name: "a client SYN with a new ISN on an open 4-tuple ends the old connection",
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 150000, flags: "PA", seq: 1, ack: 101, n: 200},
				{us: 5000000, c2s: true, flags: "S", seq: 77777},
			},
			want: with(hs,
				l("ADU", 150000, "<", "100 SEQ 0.050000"),
				l("ADU", 5000000, ">", "200 SEQ"),
				l("END", 5000000, "<", ""),
				l("SYN", 5000000, "<", ""),
				l("END", 5000000, "<", "")),
		},
		{
			name: "idle timeout",
			opts: func(o *ingest.Options) { o.IdleTimeout = 10 * time.Second },
			steps: []step{
				{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				{us: 150000, flags: "PA", seq: 1, ack: 101, n: 200},
				{us: 20150000, flags: "PA", seq: 201, ack: 101, n: 5},
			},
			want: with(hs,
				l("ADU", 150000, "<", "100 SEQ 0.050000"),
				l("ADU", 10150000, ">", "200 SEQ"),
				l("END", 10150000, ">", "")),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := ingest.DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			sc := newScript()
			if tc.sc != nil {
				tc.sc(&sc)
			}
			var steps []step
			if len(tc.steps) > 0 && tc.steps[0].flags == "S" {
				steps = tc.steps
			} else {
				steps = append(handshake(0), tc.steps...)
			}
			out, _, _ := run(t, opts, sc, steps)
			require.Equal(t, tc.want, out)
		})
	}
}
