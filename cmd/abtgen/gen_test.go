package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/query"
)

// queryRow runs a query on an archive and returns its single row as text.
func queryRow(t *testing.T, dir, stmt string) []string {
	t.Helper()
	ctx := context.Background()
	db, err := query.Open(ctx, dir, query.Range{}, query.Options{Threads: 1})
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(ctx, stmt)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	require.True(t, rows.Next(), "no row")
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	require.NoError(t, rows.Scan(ptrs...))
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprint(v)
	}
	return out
}

func generateTiny(t *testing.T, dir, csv string, seed string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args := []string{"--out", dir, "--adus", "10000", "--servers", "200", "--days", "3", "--seed", seed, "--quiet"}
	if csv != "" {
		args = append(args, "--csv", csv)
	}
	code := run(context.Background(), args, &stdout, &stderr)
	require.Empty(t, stdout.String())
	return code, stderr.String()
}

// TestTinyArchive generates 10,000 ADUs and checks that abtq's query layer
// reads exactly them, that the connections table agrees with the ADUs, that
// the CSV holds the same rows, and that the same seed gives the same rows.
func TestTinyArchive(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	csv := filepath.Join(dir, "adus.csv.gz")
	code, stderr := generateTiny(t, a, csv, "7")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "10000 ADUs")

	got := queryRow(t, a, `SELECT count(*), count(DISTINCT conn_id), sum(size), count(DISTINCT server_ip),
		min(ts) >= TIMESTAMP '2008-04-01', max(ts) < TIMESTAMP '2008-04-05' FROM adus`)
	require.Equal(t, "10000", got[0])
	require.Equal(t, "true", got[4])
	require.Equal(t, "true", got[5])
	conns := queryRow(t, a, `SELECT count(*), sum(c2s_adus + s2c_adus), sum(c2s_unique_bytes + s2c_unique_bytes) FROM connections`)
	require.Equal(t, got[1], conns[0], "one connections row per connection")
	require.Equal(t, "10000", conns[1])
	require.Equal(t, got[2], conns[2], "bytes agree")
	runs := queryRow(t, a, `SELECT count(*), first(adus), first(connections), first(status) FROM runs`)
	require.Equal(t, []string{"1", "10000", conns[0], "complete"}, runs)
	// Every response time has the response that ended it.
	ex := queryRow(t, a, `SELECT count(*), count(response_bytes) FROM response_times`)
	require.Equal(t, ex[0], ex[1])

	// The CSV holds the same rows.
	f, err := os.Open(csv)
	require.NoError(t, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	require.NoError(t, err)
	sc := bufio.NewScanner(z)
	var lines int
	var sum int64
	for sc.Scan() {
		lines++
		if lines == 1 {
			require.Equal(t, strings.TrimSuffix(csvHeader, "\n"), sc.Text())
			continue
		}
		var size int64
		_, err := fmt.Sscan(strings.Split(sc.Text(), ",")[8], &size)
		require.NoError(t, err)
		sum += size
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 10001, lines)
	require.Equal(t, got[2], fmt.Sprint(sum))

	// Deterministic for a seed.
	code, stderr = generateTiny(t, b, "", "7")
	require.Equal(t, 0, code, stderr)
	const digest = `SELECT sum(hash(server_ip, server_port, client_ip, client_port, conn_id, ordinal, direction, size, ts, think_us, duration_us)) FROM adus`
	require.Equal(t, queryRow(t, a, digest), queryRow(t, b, digest))
}

// TestUsage: bad flags are usage errors.
func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no-out", []string{"--adus", "10"}},
		{"zero-adus", []string{"--out", "x", "--adus", "0"}},
		{"bad-start", []string{"--out", "x", "--start", "April"}},
		{"unknown-flag", []string{"--out", "x", "--nope"}},
		{"argument", []string{"--out", "x", "extra"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, run(context.Background(), tc.args, &stdout, &stderr), stderr.String())
		})
	}
}
