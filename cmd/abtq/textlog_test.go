package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/query"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/internal/synthcap"
)

// The round trip of adudump text (issue 9): an archive made by adu2parquet
// from the adudump text adu2parquet writes for a capture (B) answers every
// canned query as the archive made from the capture (A) does, up to what
// the text does not carry. docs/inference.md ("What adudump text does not
// carry") lists those fields and their effect on each canned query;
// textView below states them as SQL: A's tables with every field the text
// does not carry replaced by what the text gives it.

// textView rewrites the archive's views adus, connections, runs and
// rollup_hist as an archive made from the capture's adudump text holds
// them, one common table expression each (a CTE hides the view of the same
// name; the views exchanges and vectors are not rewritten, and no canned
// query reads them). It needs an archive with ADU rows.
var textView = `WITH adus AS (
  -- An ADU line is printed when the ADU is decided: its time is the ADU's
  -- ts, its start (first data segment) and duration are unknown.
  SELECT * REPLACE (
    decided_time AS ts,
    NULL::BIGINT AS duration_us,
    -coalesce(think_us, 0) AS decided_lag_us,
    CAST(decided_time AS DATE) AS date,
    hour(decided_time) AS hour,
    NULL::TIMESTAMP AS start_time,
    CASE WHEN think_us IS NOT NULL THEN decided_time - to_microseconds(think_us) END AS end_time)
  FROM adus
), first_lines AS (
  -- A connection begins at its first line: its SYN, or for one begun at a
  -- SYN-ACK (no line: the engine has no record for it) its SEQ, CONC, first
  -- ADU or END, whichever comes first.
  SELECT c.sensor, c.run_id, c.conn_id,
    CASE WHEN c.handshake = 'syn' THEN c.syn_time
      ELSE least(c.established_time, c.ts + to_microseconds(c.concurrent_us), c.end_time,
        (SELECT min(a.ts) FROM adus a WHERE a.sensor = c.sensor AND a.run_id = c.run_id AND a.conn_id = c.conn_id)) END AS first
  FROM connections c
), connections AS (
  SELECT c.* REPLACE (
    f.first AS ts,
    epoch_us(c.syn_time) - epoch_us(f.first) AS syn_us,
    epoch_us(c.established_time) - epoch_us(f.first) AS established_us,
    c.concurrent_us + epoch_us(c.ts) - epoch_us(f.first) AS concurrent_us,
    -- the last packet is unknown; the END line is the last line
    epoch_us(c.end_time) - epoch_us(f.first) AS last_us,
    epoch_us(c.end_time) - epoch_us(f.first) AS end_us,
    'unrecorded' AS end_reason,
    NULL::BIGINT AS ack_rtt_us,
    -- a SYN line says a SYN was seen, not how many
    CASE WHEN c.handshake = 'syn' THEN 1 ELSE 0 END AS syn_attempts,
    CASE WHEN c.rtt_us IS NOT NULL OR c.handshake = 'synack' THEN 1 ELSE 0 END AS synack_attempts,
    0 AS ambiguous,
    -- packet and byte counters, FIN, RST and SYN options are not printed
    0::BIGINT AS c2s_pkts, 0::BIGINT AS c2s_data_pkts, 0::BIGINT AS c2s_bytes, 0::BIGINT AS c2s_missed_bytes,
    0::BIGINT AS c2s_rexmt_pkts, 0::BIGINT AS c2s_rexmt_bytes, false AS c2s_fin, false AS c2s_rst,
    NULL::INTEGER AS c2s_mss, NULL::INTEGER AS c2s_wscale,
    0::BIGINT AS s2c_pkts, 0::BIGINT AS s2c_data_pkts, 0::BIGINT AS s2c_bytes, 0::BIGINT AS s2c_missed_bytes,
    0::BIGINT AS s2c_rexmt_pkts, 0::BIGINT AS s2c_rexmt_bytes, false AS s2c_fin, false AS s2c_rst,
    NULL::INTEGER AS s2c_mss, NULL::INTEGER AS s2c_wscale,
    CAST(f.first AS DATE) AS date, hour(f.first) AS hour,
    c.end_time AS last_time,
    (epoch_us(c.end_time) - epoch_us(f.first)) / 1e6 AS duration_s)
  FROM connections c JOIN first_lines f USING (sensor, run_id, conn_id)
), runs AS (
  -- A log's run covers its first to its last line, and reads its lines;
  -- the view's collections, durations and outages follow.
  ` + query.RunsSQL(`(
  SELECT r.* EXCLUDE (collection, duration_s, outage_s) REPLACE (
    coalesce(l.first_line, r.ts) AS ts,
    l.first_line AS first_packet,
    l.last_line AS last_packet,
    coalesce(list_sum(list_transform(r.records, x -> x.value)), 0) AS packets)
  FROM runs r LEFT JOIN (
    SELECT sensor, run_id, min(ts) AS first_line, max(end_time) AS last_line FROM connections GROUP BY ALL
  ) l USING (sensor, run_id))`) + `
), rollup_hist AS (
` + rollup.HistSQL("adus", "connections") + `
)`

// throughTextView puts textView in front of a canned query.
func throughTextView(stmt string) string {
	for strings.HasPrefix(stmt, "--") {
		_, stmt, _ = strings.Cut(stmt, "\n")
	}
	if rest, ok := strings.CutPrefix(stmt, "WITH "); ok {
		return textView + ",\n" + rest
	}
	return textView + "\n" + stmt
}

// notCarried names, per canned query, the columns of its result that
// textView cannot give either: they are not functions of the rows.
var notCarried = map[string][]string{
	"runs": {
		"run_id",        // another run
		"bytes_written", // the text's run writes other values, which compress otherwise
	},
	"collections": {"bytes_written"},
}

// textDirect names the canned queries whose result over the whole archive
// the text changes in the named columns only (none: B gives exactly what
// A gives), and those columns.
var textDirect = map[string][]string{
	"adu-sizes":      nil,
	"exchanges":      nil,
	"response-times": nil,
	"top-servers":    {"rst"}, // connections.c2s_rst, s2c_rst
}

// TestTextRoundTrip runs the round trip on every bundled capture and the
// synthetic campus capture (synthcap.DefaultCampus), each a run of its own
// sensor in archive A, and on the three captures of the committed golden
// archive (queries/testdata/archive, made from them by mkarchive.go):
// every canned query, with its defaults (and --exact, and --period hour),
// and the golden cases of TestCannedQueries, gives on B what it gives on A
// seen through textView; the ones textDirect names give what they give on
// A but in the columns it names. The ADU and connection rows of B are A's through
// textView, every column, but for the connection that outOfOrderSYNs
// names.
func TestTextRoundTrip(t *testing.T) {
	dir := memTempDir(t)
	campus := filepath.Join(dir, "campus.pcap")
	f, err := os.Create(campus)
	require.NoError(t, err)
	require.NoError(t, synthcap.DefaultCampus().Write(f))
	require.NoError(t, f.Close())
	captures, err := filepath.Glob("../../testdata/pcaps/*")
	require.NoError(t, err)
	require.Len(t, captures, 40)
	captures = append(captures, campus)

	// A: each capture a run of a sensor of its own; B: each capture's text
	// likewise. The runs of different sensors go on side by side.
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	bin := buildADU2Parquet(t)
	var jobs []func() error
	for _, c := range captures {
		sensor := filepath.Base(c)
		jobs = append(jobs, func() error {
			if err := runADU2Parquet(bin, nil, "--out", a, "--sensor", sensor, "--rollup=false", c); err != nil {
				return err
			}
			text, err := writeText(bin, filepath.Join(dir, "text"), c)
			if err != nil {
				return err
			}
			return runADU2Parquet(bin, nil, "--out", b, "--sensor", sensor, "--rollup=false", text)
		})
	}
	// And B of the golden archive: its three captures' texts, as
	// mkarchive.go archived the captures (sensor golden, one run each).
	gb := filepath.Join(dir, "golden")
	jobs = append(jobs, func() error {
		for _, c := range []string{"zeek_http_bro.org.pcap", "zeek_smtp.pcap", "pcapplusplus_example.pcap"} {
			text, err := writeText(bin, filepath.Join(dir, "golden-text"), filepath.Join("../../testdata/pcaps", c))
			if err != nil {
				return err
			}
			if err := runADU2Parquet(bin, nil, "--out", gb, "--sensor", "golden", "--rollup=false", text); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, runJobs(jobs))
	require.NoError(t, runJobs([]func() error{
		func() error { return runADU2Parquet(bin, nil, "rollup", "--out", a) },
		func() error { return runADU2Parquet(bin, nil, "rollup", "--out", b) },
		func() error { return runADU2Parquet(bin, nil, "rollup", "--out", gb) },
	}))

	var cases [][]string
	for _, c := range canned {
		if c.name == "loss" {
			continue // live runs' only: files and logs have no hours (TestLoss)
		}
		cases = append(cases, []string{c.name})
		if c.rollup {
			cases = append(cases, []string{c.name, "--exact"})
		}
		if c.period {
			cases = append(cases, []string{c.name, "--period", "hour"})
		}
	}
	cases = append(cases, []string{"response-times", "--server", synthcap.CampusServer.Addr().String(),
		"--port", "443", "--exact"})
	t.Run("captures", func(t *testing.T) { requireSameAnswers(t, a, b, cases) })
	t.Run("rows", func(t *testing.T) { requireSameRows(t, a, b) })
	var golden [][]string
	for _, c := range goldenCases {
		golden = append(golden, c.args)
	}
	t.Run("golden", func(t *testing.T) { requireSameAnswers(t, testArchive, gb, golden) })
}

// memTempDir returns a temporary directory in memory (/dev/shm) when there
// is one, else t.TempDir(): the test's some 130 adu2parquet runs publish
// some 500 files, each synced, which a disk makes wait.
func memTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "abtq-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(dir)) })
	return dir
}

// runJobs runs the jobs, two at a time (or GOMAXPROCS, up to 4), and
// returns their errors.
func runJobs(jobs []func() error) error {
	n := min(max(runtime.GOMAXPROCS(0), 2), 4)
	sem := make(chan struct{}, n)
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = job()
			<-sem
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// requireSameAnswers runs each case (abtq arguments after the global
// flags) on archives a and b: b's answer is a's through textView, and for
// the textDirect queries over the whole archive a's own but in the columns
// textDirect names.
func requireSameAnswers(t *testing.T, a, b string, cases [][]string) {
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			name := args[0]
			if name == "--from" {
				name = args[4] // --from X --to Y name
			}
			want := queryTSV(t, a, throughTextView, args...)
			got := queryTSV(t, b, nil, args...)
			require.Greater(t, len(got), 1, "a case with results")
			require.Equal(t, maskColumns(want, notCarried[name]), maskColumns(got, notCarried[name]))
			if differ, ok := textDirect[name]; ok && args[0] != "--from" {
				require.Equal(t, maskColumns(queryTSV(t, a, nil, args...), differ), maskColumns(got, differ), "B against A")
			}
		})
	}
}

// outOfOrderSYNs are the connections of the bundled captures whose SYN
// the capture holds after a later packet: the engine's records never go
// back in time, so the text prints the SYN line (where the connection
// begins) at that later packet's time, which no column of A holds.
// gopacket_cip.pcap frame 13558 (1421154184.359112) follows frame 13557
// (1421154184.359144), tshark says.
var outOfOrderSYNs = []string{
	"sensor = 'gopacket_cip.pcap' AND client_ip = '10.200.1.45' AND client_port = 47074 AND server_ip = '10.200.1.18' AND server_port = 23",
}

// requireSameRows checks that b's ADU and connection rows are a's through
// textView, every column but the run and connection ids (the reader
// numbers connections in the order they appear in the text): first their
// count and the sum of the rows' hashes, then, if those differ, row by row.
func requireSameRows(t *testing.T, a, b string) {
	skip := "NOT (" + strings.Join(outOfOrderSYNs, ") AND NOT (") + ")"
	for _, table := range []string{"adus", "connections"} {
		t.Run(table, func(t *testing.T) {
			rows := "SELECT * EXCLUDE (run_id, conn_id) FROM " + table + " WHERE " + skip
			q := "SELECT count(*) AS n, sum(hash(r)::HUGEINT) AS h FROM (" + rows + ") r"
			want := queryTSV(t, a, throughTextView, "sql", q)
			got := queryTSV(t, b, nil, "sql", q)
			n, _, _ := strings.Cut(got[1], "\t")
			require.Greater(t, len(n), len("999"), "some thousands of rows: %s", n)
			if slices.Equal(want, got) {
				return
			}
			want = queryTSV(t, a, throughTextView, "sql", rows+" ORDER BY ALL")
			got = queryTSV(t, b, nil, "sql", rows+" ORDER BY ALL")
			require.Equal(t, want[0], got[0], "columns")
			require.Equal(t, len(want), len(got), "rows")
			for i := range want {
				require.Equal(t, want[i], got[i], "row %d", i)
			}
		})
	}
	// The connections left out do differ, only in their times.
	for _, c := range outOfOrderSYNs {
		q := "SELECT ts, end_us FROM connections WHERE " + c
		want, got := queryTSV(t, a, throughTextView, "sql", q), queryTSV(t, b, nil, "sql", q)
		require.Len(t, got, 2, c)
		require.NotEqual(t, want, got, c)
		q = "SELECT * EXCLUDE (run_id, conn_id, ts, syn_us, established_us, last_us, end_us, date, hour, syn_time, last_time, duration_s) FROM connections WHERE " + c
		require.Equal(t, queryTSV(t, a, throughTextView, "sql", q), queryTSV(t, b, nil, "sql", q), c)
	}
}

// queryTSV runs abtq on archive with args, each statement rewritten by
// rewrite if set, and returns the TSV rows, header first.
func queryTSV(t *testing.T, archive string, rewrite func(string) string, args ...string) []string {
	t.Helper()
	var out, stderr bytes.Buffer
	code := runWith(context.Background(), &globals{rewrite: rewrite},
		append([]string{"--archive", archive, "--format", "tsv"}, args...), strings.NewReader(""), &out, &stderr)
	require.Equal(t, 0, code, stderr.String())
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// maskColumns replaces the named columns' values by "-".
func maskColumns(rows []string, names []string) []string {
	if len(names) == 0 || len(rows) == 0 {
		return rows
	}
	header := strings.Split(rows[0], "\t")
	out := []string{rows[0]}
	for _, r := range rows[1:] {
		f := strings.Split(r, "\t")
		for i, h := range header {
			if slices.Contains(names, h) && i < len(f) {
				f[i] = "-"
			}
		}
		out = append(out, strings.Join(f, "\t"))
	}
	return out
}

// writeText writes the adudump text of capture into dir, gzip'd as the UNC
// data sets are, under the capture's name (which the gzip header also
// holds: two captures without TCP connections give the same empty text,
// and an input is refused when one with the same content was archived).
// It returns the file's path.
func writeText(bin, dir, capture string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, filepath.Base(capture)+".adu.gz")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	zw := gzip.NewWriter(f)
	zw.Name = filepath.Base(capture) + ".adu"
	err = runADU2Parquet(bin, zw, "--format", "adudump", capture)
	return path, errors.Join(err, zw.Close(), f.Close())
}

// buildADU2Parquet builds adu2parquet into a temporary directory.
func buildADU2Parquet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "adu2parquet")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/adu2parquet")
	cmd.Dir = "../.." // the module root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// runADU2Parquet runs adu2parquet with args and -q, its standard output
// into stdout when given.
func runADU2Parquet(bin string, stdout io.Writer, args ...string) error {
	cmd := exec.Command(bin, append(args, "-q")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("adu2parquet %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}
