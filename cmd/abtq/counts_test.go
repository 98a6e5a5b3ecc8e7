package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// column returns the values of the named column of TSV output.
func column(t *testing.T, out, name string) []string {
	t.Helper()
	rows := tsvRows(t, out)
	i := -1
	for j, c := range rows[0] {
		if c == name {
			i = j
		}
	}
	require.GreaterOrEqual(t, i, 0, "no column %q in %v", name, rows[0])
	var vals []string
	for _, r := range rows[1:] {
		vals = append(vals, r[i])
	}
	return vals
}

// TestCountsNamed: each count is named after what it counts (issue 9: four
// numbers were all "exchanges"). The SMTP session of zeek_smtp.pcap
// (cmd/adu2parquet/testdata/golden/zeek_smtp.pcap.adu, counted by hand):
// the server speaks first (its 220 greeting) and then answers each of the
// client's 9 commands, so its one connection has 10 exchanges (a-b-t
// epochs: the first with an empty request) and 9 response times.
func TestCountsNamed(t *testing.T) {
	smtp := []string{"--server", "74.53.140.153", "--port", "25"}
	tests := []struct {
		name   string
		args   []string
		column string
		want   []string
	}{
		{"top-servers", append([]string{"top-servers"}, smtp...), "exchanges", []string{"10"}},
		{"top-servers, rows", append([]string{"top-servers", "--exact"}, smtp...), "exchanges", []string{"10"}},
		{"exchanges per connection", append([]string{"exchanges"}, smtp...), "exchanges", []string{"10"}},
		{"connections with them", append([]string{"exchanges"}, smtp...), "connections", []string{"1"}},
		{"response-times", append([]string{"response-times"}, smtp...), "response_times", []string{"9"}},
		{"response-times, rows", append([]string{"response-times", "--exact"}, smtp...), "response_times", []string{"9"}},
		{"response-time-cdf", append([]string{"response-time-cdf"}, smtp...), "response_times", []string{"9"}},
		{"response-time-cdf, hours", append([]string{"response-time-cdf", "--period", "hour"}, smtp...), "response_times", []string{"9"}},
		{"response_times view", []string{"sql", "SELECT count(*) AS response_times FROM response_times WHERE server_ip = '74.53.140.153'"},
			"response_times", []string{"9"}},
		{"connections.exchanges", []string{"sql", "SELECT sum(exchanges) AS exchanges FROM connections WHERE server_ip = '74.53.140.153'"},
			"exchanges", []string{"10"}},
		{"conn-list", []string{"conn-list", "--by", "bytes_in", "--bucket-size", "1000000", "--buckets", "1", "--server", "74.53.140.153"},
			"exchanges", []string{"10"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, append([]string{"--archive", testArchive, "--format", "tsv"}, tc.args...)...)
			require.Equal(t, 0, code, stderr)
			require.Equal(t, tc.want, column(t, out, tc.column))
		})
	}
}

// TestResponseTimesAgree: for every server, the response_times view has as
// many rows as response-times counts response times, and each row's
// response ADU is the one that follows its request (the oracle reads the
// Parquet files: the s2c ADU at the next ordinal of the connection).
func TestResponseTimesAgree(t *testing.T) {
	code, out, stderr := runCmd(t, "--archive", testArchive, "--format", "tsv", "response-times", "--exact", "--limit", "1000")
	require.Equal(t, 0, code, stderr)
	want := map[string]string{}
	for _, r := range tsvRows(t, out)[1:] {
		want[r[0]+":"+r[1]] = r[2]
	}
	code, out, stderr = runCmd(t, "--archive", testArchive, "--format", "tsv", "sql",
		"SELECT server_ip, server_port, count(*) FROM response_times GROUP BY ALL")
	require.Equal(t, 0, code, stderr)
	got := map[string]string{}
	for _, r := range tsvRows(t, out)[1:] {
		got[r[0]+":"+r[1]] = r[2]
	}
	require.Equal(t, want, got)

	code, out, stderr = runCmd(t, "--archive", testArchive, "--format", "tsv", "sql",
		"SELECT count(*), count(response_bytes), sum(response_bytes), sum(client_think_us) FROM response_times")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, oracle(t, `SELECT count(*), count(r.size), sum(r.size), sum(r.think_us)
		FROM {adus} q LEFT JOIN {adus} r ON r.run_id = q.run_id AND r.conn_id = q.conn_id AND r.ordinal = q.ordinal + 1 AND r.direction = 's2c'
		WHERE q.direction = 'c2s' AND q.think_to_peer AND NOT q.concurrent AND q.think_us IS NOT NULL`), tsvRows(t, out)[1])
}

// TestNoExchangesView: the view that held request/response pairs is
// response_times now; "exchanges" names one thing, the a-b-t epochs.
func TestNoExchangesView(t *testing.T) {
	code, _, stderr := runCmd(t, "--archive", testArchive, "sql", "SELECT * FROM exchanges")
	require.Equal(t, 1, code)
	require.True(t, strings.Contains(stderr, "exchanges does not exist"), stderr)
}
