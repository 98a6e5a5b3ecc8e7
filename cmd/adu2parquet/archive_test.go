package main

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/schema"
)

// These tests drive adu2parquet's archive output end to end: what the
// archive holds (read back with parquet-go and DuckDB) against what the
// same inputs give as JSON Lines, re-runs, faults, compaction, and crashes
// (which kill the real binary, built once).

const testSensor = "s1"

// jsonRec is the part of a JSON Lines record these tests use.
type jsonRec struct {
	Kind    string `json:"kind"`
	TsNs    int64  `json:"ts_ns"`
	ConnID  uint64 `json:"conn_id"`
	Dir     string `json:"dir"`
	Size    *int64 `json:"size"`
	FirstNs *int64 `json:"first_ns"`
	Conn    *struct {
		FirstNs int64 `json:"first_ns"`
		C2S     struct {
			Bytes int64 `json:"bytes"`
		} `json:"c2s"`
		S2C struct {
			Bytes int64 `json:"bytes"`
		} `json:"s2c"`
	} `json:"conn"`
}

// expectation is what an archive of some inputs must hold, computed from
// the JSON Lines output of the same inputs.
type expectation struct {
	adus, conns   int64
	sizeByDir     map[string]int64 // adus.size summed by direction
	c2sBytes      int64            // connections.c2s_bytes summed
	s2cBytes      int64
	adusByHour    map[time.Time]int64 // adus rows by the hour of their ts
	connsByHour   map[time.Time]int64
	runs          int64
	hoursWithADUs int
}

// expectFromJSONL runs --format jsonl over each input set (one run each)
// and adds up what the archive must hold.
func expectFromJSONL(t *testing.T, runs ...[]string) expectation {
	t.Helper()
	e := expectation{sizeByDir: map[string]int64{}, adusByHour: map[time.Time]int64{}, connsByHour: map[time.Time]int64{}}
	hour := func(us int64) time.Time { return time.UnixMicro(us).UTC().Truncate(time.Hour) }
	for _, inputs := range runs {
		code, out, stderr := runCmd(t, nil, append([]string{"-q", "--format", "jsonl"}, inputs...)...)
		require.Equal(t, 0, code, stderr)
		e.runs++
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r jsonRec
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
			switch r.Kind {
			case "ADU", "INC":
				require.NotNil(t, r.Size, sc.Text())
				e.adus++
				e.sizeByDir[r.Dir] += *r.Size
				ts := r.TsNs
				if r.FirstNs != nil {
					ts = *r.FirstNs
				}
				e.adusByHour[hour(time.Unix(0, ts).UnixMicro())]++
			case "END":
				require.NotNil(t, r.Conn, sc.Text())
				e.conns++
				e.c2sBytes += r.Conn.C2S.Bytes
				e.s2cBytes += r.Conn.S2C.Bytes
				e.connsByHour[hour(time.Unix(0, r.Conn.FirstNs).UnixMicro())]++
			}
		}
		require.NoError(t, sc.Err())
	}
	e.hoursWithADUs = len(e.adusByHour)
	return e
}

// archiveRun runs adu2parquet into out with sensor s1 and returns exit
// status and standard error.
func archiveRun(t *testing.T, out string, args ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := runCmd(t, nil, append([]string{"-q", "--out", out, "--sensor", testSensor}, args...)...)
	require.Empty(t, stdout, "the archive output writes nothing to standard output")
	return code, stderr
}

func mustArchive(t *testing.T, out string, args ...string) {
	t.Helper()
	code, stderr := archiveRun(t, out, args...)
	require.Equal(t, 0, code, stderr)
}

func capturePath(name string) string { return filepath.Join(pcapDir, name) }

// openDuck opens an in-memory DuckDB.
func openDuck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// scan reads a table of the archive, Hive partitions decoded.
func scan(out, table string, extra ...string) string {
	return fmt.Sprintf("read_parquet('%s', %s)", filepath.Join(out, table, "**", "*.parquet"),
		strings.Join(append([]string{"hive_partitioning = true"}, extra...), ", "))
}

func queryInt(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n sql.NullInt64
	require.NoError(t, db.QueryRow(q).Scan(&n), q)
	return n.Int64
}

// parquetFiles lists every *.parquet under root, relative to it.
func parquetFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == catalog.MetaDir {
			return fs.SkipDir // the archive's bookkeeping (a killed edit's staging directory, say)
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".parquet") {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	}))
	return out
}

// leftovers lists temporary, spill and staging files under root: none may
// remain once a run has ended (whatever way it ended, for the ones it can
// clean up).
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasSuffix(name, ".tmp") || strings.HasPrefix(name, ".spill-") || strings.HasPrefix(name, "stage-") {
			out = append(out, path)
		}
		return nil
	}))
	return out
}

// snapshot maps every file under root to a hash of its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, path)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	}))
	return out
}

// tables is every row of an archive, each file read whole with parquet-go
// (which checks its footer and pages).
type tables struct {
	adus  []schema.ADU
	conns []schema.Connection
	runs  []schema.Run
	files map[string][]string // table → parts, relative to the root
}

func readTables(t *testing.T, root string) tables {
	t.Helper()
	tb := tables{files: map[string][]string{}}
	for _, rel := range parquetFiles(t, root) {
		path := filepath.Join(root, rel)
		requireWholeParquet(t, path)
		table, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		tb.files[table] = append(tb.files[table], rel)
		var err error
		switch table {
		case schema.TableADUs:
			var rows []schema.ADU
			rows, err = parquet.ReadFile[schema.ADU](path)
			tb.adus = append(tb.adus, rows...)
		case schema.TableConnections:
			var rows []schema.Connection
			rows, err = parquet.ReadFile[schema.Connection](path)
			tb.conns = append(tb.conns, rows...)
		case schema.TableRuns:
			var rows []schema.Run
			rows, err = parquet.ReadFile[schema.Run](path)
			tb.runs = append(tb.runs, rows...)
		case rollup.Table:
			// Derived from the adus table; requireRollupsCurrent checks them.
		default:
			require.Failf(t, "parquet file outside the tables", "%s", rel)
		}
		require.NoError(t, err, rel)
	}
	return tb
}

// requireRollupsCurrent checks that every day of the adus table has a
// current rollup and no other day has one.
func requireRollupsCurrent(t *testing.T, root string, tb tables) {
	t.Helper()
	days := map[string]bool{}
	for _, rel := range tb.files[schema.TableADUs] {
		_, sensor, h, err := partition.ParseDir(root, filepath.Dir(filepath.Join(root, rel)))
		require.NoError(t, err)
		d := rollup.DayOf(catalog.File{Sensor: sensor, Hour: h})
		if days[d.String()] {
			continue
		}
		days[d.String()] = true
		ok, err := rollup.IsCurrent(root, d)
		require.NoError(t, err)
		require.True(t, ok, "rollup of %s", d)
	}
	require.Len(t, tb.files[rollup.Table], len(days))
}

// requireWholeParquet checks that a file starts and ends with the Parquet
// magic and its footer parses: it is not a half-written file.
func requireWholeParquet(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(b), 12, path)
	require.Equal(t, "PAR1", string(b[:4]), path)
	require.Equal(t, "PAR1", string(b[len(b)-4:]), "%s: no footer", path)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = parquet.OpenFile(f, int64(len(b)))
	require.NoError(t, err, path)
}

// aduKey identifies an adus row within its run.
type aduKey struct {
	run       string
	conn      int64
	ordinal   int32
	direction string
	size      int64
	ts        int64
}

func aduKeys(rows []schema.ADU, runName map[string]string) []aduKey {
	out := make([]aduKey, len(rows))
	for i, r := range rows {
		out[i] = aduKey{runName[r.RunID], r.ConnID, r.Ordinal, r.Direction, r.Size, r.Ts}
	}
	slices.SortFunc(out, func(a, b aduKey) int {
		return cmp.Or(strings.Compare(a.run, b.run), cmp.Compare(a.conn, b.conn), cmp.Compare(a.ordinal, b.ordinal),
			strings.Compare(a.direction, b.direction), cmp.Compare(a.size, b.size), cmp.Compare(a.ts, b.ts))
	})
	return out
}

// runNames maps run ids to the names of their inputs, so rows of different
// archives of the same inputs can be compared.
func runNames(runs []schema.Run) map[string]string {
	m := map[string]string{}
	for _, r := range runs {
		var names []string
		for _, in := range r.Inputs {
			names = append(names, filepath.Base(in.Name))
		}
		m[r.RunID] = strings.Join(names, "+")
	}
	return m
}

// TestArchiveDuckDB archives captures as separate runs into one archive and
// queries it with DuckDB: the counts and byte sums equal those of the JSON
// Lines output of the same captures, the Hive partition columns agree with
// each row's ts, and a one-hour time range on ts returns exactly the rows
// of that hour, all from that hour's directory.
func TestArchiveDuckDB(t *testing.T) {
	runs := [][]string{
		{capturePath("trex_Oracle.pcap")},
		{capturePath("pcapplusplus_four_ipv6_http_streams.pcap")},
		{capturePath("zeek_http_bro.org.pcap"), capturePath("zeek_smtp.pcap")}, // two inputs, one run
		{capturePath("mercury_emix.pcap")},                                     // many hours
	}
	out := filepath.Join(t.TempDir(), "archive")
	for _, inputs := range runs {
		mustArchive(t, out, inputs...)
	}
	want := expectFromJSONL(t, runs...)
	require.Greater(t, want.hoursWithADUs, 5)
	require.Empty(t, leftovers(t, out))

	db := openDuck(t)
	adus, conns, runsT := scan(out, "adus"), scan(out, "connections"), scan(out, "runs")
	require.Equal(t, want.adus, queryInt(t, db, "SELECT count(*) FROM "+adus), "adus rows = ADU+INC records")
	require.Equal(t, want.conns, queryInt(t, db, "SELECT count(*) FROM "+conns), "connections rows = END records")
	require.Equal(t, want.runs, queryInt(t, db, "SELECT count(*) FROM "+runsT))
	require.Equal(t, want.adus, queryInt(t, db, "SELECT sum(adus) FROM "+runsT), "runs.adus")
	require.Equal(t, want.conns, queryInt(t, db, "SELECT sum(connections) FROM "+runsT), "runs.connections")

	t.Run("sums by direction", func(t *testing.T) {
		rows, err := db.Query("SELECT direction, sum(size) FROM " + adus + " GROUP BY direction ORDER BY ALL")
		require.NoError(t, err)
		defer rows.Close()
		got := map[string]int64{}
		for rows.Next() {
			var dir string
			var sum int64
			require.NoError(t, rows.Scan(&dir, &sum))
			got[dir] = sum
		}
		require.NoError(t, rows.Err())
		require.Equal(t, want.sizeByDir, got)
		require.Equal(t, want.c2sBytes, queryInt(t, db, "SELECT sum(c2s_bytes) FROM "+conns))
		require.Equal(t, want.s2cBytes, queryInt(t, db, "SELECT sum(s2c_bytes) FROM "+conns))
	})

	t.Run("partition columns", func(t *testing.T) {
		for _, table := range []string{"adus", "connections", "runs"} {
			src := scan(out, table)
			require.Equal(t, int64(0), queryInt(t, db, "SELECT count(*) FROM "+src+
				" WHERE sensor IS DISTINCT FROM '"+testSensor+"' OR date IS DISTINCT FROM CAST(ts AS DATE) OR hour IS DISTINCT FROM hour(ts)"),
				"%s rows whose sensor/date/hour partition does not match their ts", table)
			var typ string
			require.NoError(t, db.QueryRow("SELECT typeof(date) || ' ' || typeof(ts) FROM "+src+" LIMIT 1").Scan(&typ))
			require.Equal(t, "DATE TIMESTAMP", typ, table)
			// hour=H (no leading zero): DuckDB types it as an integer,
			// unaided (hour=08 it would read as text).
			require.NoError(t, db.QueryRow("SELECT typeof(hour) FROM "+src+" LIMIT 1").Scan(&typ))
			require.Equal(t, "BIGINT", typ, table)
			require.Equal(t, queryInt(t, db, "SELECT count(*) FROM "+src+" WHERE hour(ts) < 10"),
				queryInt(t, db, "SELECT count(*) FROM "+src+" WHERE hour < 10"), table)
		}
		require.Equal(t, int64(want.hoursWithADUs), queryInt(t, db, "SELECT count(DISTINCT (date, hour)) FROM "+adus))
	})

	t.Run("one hour", func(t *testing.T) {
		// The busiest hour, and make sure it is not all of the data.
		var hour time.Time
		for h, n := range want.adusByHour {
			if n > want.adusByHour[hour] || (n == want.adusByHour[hour] && h.Before(hour)) {
				hour = h
			}
		}
		require.Less(t, want.adusByHour[hour], want.adus)
		const layout = "2006-01-02 15:04:05"
		where := fmt.Sprintf(" WHERE ts >= TIMESTAMP '%s' AND ts < TIMESTAMP '%s'", hour.Format(layout), hour.Add(time.Hour).Format(layout))
		dir := filepath.ToSlash(fmt.Sprintf("/sensor=%s/date=%s/hour=%d/", testSensor, hour.Format("2006-01-02"), hour.Hour()))
		for _, tc := range []struct {
			table string
			want  int64
		}{{"adus", want.adusByHour[hour]}, {"connections", want.connsByHour[hour]}} {
			rows, err := db.Query("SELECT ts, filename FROM " + scan(out, tc.table, "filename = true") + where)
			require.NoError(t, err)
			var n int64
			for rows.Next() {
				var ts time.Time
				var file string
				require.NoError(t, rows.Scan(&ts, &file))
				require.Equal(t, hour, ts.UTC().Truncate(time.Hour))
				require.Contains(t, filepath.ToSlash(file), dir, "row of %s in another hour's file", hour)
				n++
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			require.Equal(t, tc.want, n, "%s rows in %s", tc.table, hour)
			// Pruning on the partition columns alone finds the same rows.
			require.Equal(t, tc.want, queryInt(t, db, fmt.Sprintf("SELECT count(*) FROM %s WHERE date = DATE '%s' AND hour = %d",
				scan(out, tc.table), hour.Format("2006-01-02"), hour.Hour())))
		}
	})
}

// TestArchiveRefusesRepeat checks the refusals of inputs archived before:
// the run exits 1 with a message saying why, and the archive is left
// exactly as it was.
func TestArchiveRefusesRepeat(t *testing.T) {
	oracle, smtp := capturePath("trex_Oracle.pcap"), capturePath("zeek_smtp.pcap")
	tests := []struct {
		name   string
		before [][]string // runs made first
		args   []string
		want   []string // in standard error
	}{
		{
			name:   "same input",
			before: [][]string{{oracle}},
			args:   []string{oracle},
			want:   []string{"already archived", "--replace", oracle},
		},
		{
			name:   "same content under another name",
			before: [][]string{{oracle}},
			args:   []string{"COPY"},
			want:   []string{"already archived", "--replace"},
		},
		{
			name:   "one input of an earlier run",
			before: [][]string{{oracle, smtp}},
			args:   []string{smtp},
			want:   []string{"already archived", "--replace"},
		},
		{
			name:   "replace with only part of an earlier run's inputs",
			before: [][]string{{oracle, smtp}},
			args:   []string{"--replace", smtp},
			want:   []string{"also archived inputs not given now", "give all of its inputs"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "archive")
			for _, inputs := range tc.before {
				mustArchive(t, out, inputs...)
			}
			before := snapshot(t, out)
			args := slices.Clone(tc.args)
			for i, a := range args {
				if a == "COPY" {
					b, err := os.ReadFile(oracle)
					require.NoError(t, err)
					args[i] = filepath.Join(dir, "renamed.pcap")
					require.NoError(t, os.WriteFile(args[i], b, 0o644))
				}
			}
			code, stderr := archiveRun(t, out, args...)
			require.Equal(t, 1, code, stderr)
			for _, w := range tc.want {
				require.Contains(t, stderr, w)
			}
			require.Equal(t, before, snapshot(t, out), "a refused run changed the archive")
		})
	}
}

// TestArchiveReplace archives inputs again with --replace: the earlier
// run's rows are gone and the new run's are there once, so the tables hold
// exactly what the first run wrote (under the new run id).
func TestArchiveReplace(t *testing.T) {
	oracle, http := capturePath("trex_Oracle.pcap"), capturePath("zeek_http_bro.org.pcap")
	mercury := capturePath("mercury_emix.pcap")
	tests := []struct {
		name    string
		before  [][]string
		replace []string
	}{
		{name: "one input", before: [][]string{{oracle}, {http}}, replace: []string{oracle}},
		{name: "two inputs of one run", before: [][]string{{oracle, http}}, replace: []string{oracle, http}},
		{name: "many hours", before: [][]string{{mercury}, {oracle}}, replace: []string{mercury}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "archive")
			for _, inputs := range tc.before {
				mustArchive(t, out, inputs...)
			}
			first := readTables(t, out)
			require.Len(t, first.runs, len(tc.before))

			mustArchive(t, out, append([]string{"--replace"}, tc.replace...)...)
			second := readTables(t, out)
			require.Empty(t, leftovers(t, out))
			requireRollupsCurrent(t, out, second)
			require.Len(t, second.runs, len(tc.before), "the replaced run's row is gone, the new one's is there")
			require.Len(t, second.adus, len(first.adus))
			require.Len(t, second.conns, len(first.conns))
			oldIDs, newIDs := map[string]bool{}, map[string]bool{}
			for _, r := range first.runs {
				oldIDs[r.RunID] = true
			}
			var replaced int
			for _, r := range second.runs {
				newIDs[r.RunID] = true
				if !oldIDs[r.RunID] {
					replaced++
				}
			}
			require.Equal(t, 1, replaced, "one new run")
			for _, r := range second.adus {
				require.True(t, newIDs[r.RunID], "adus row of run %s, which is gone", r.RunID)
			}
			for _, r := range second.conns {
				require.True(t, newIDs[r.RunID], "connections row of run %s, which is gone", r.RunID)
			}
			// Same rows, run by run (named by their inputs): nothing doubled
			// and nothing lost.
			require.Equal(t, aduKeys(first.adus, runNames(first.runs)), aduKeys(second.adus, runNames(second.runs)))
		})
	}
}

// TestArchiveFaults checks that faults in the archive directory fail the
// run with a clear message and exit status 1.
func TestArchiveFaults(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares out (after a first run archived trex_Oracle.pcap
		// when archived is set) and returns text standard error must hold.
		archived bool
		setup    func(t *testing.T, out string) []string
	}{
		{
			name:     "corrupt part in the runs table",
			archived: true,
			setup: func(t *testing.T, out string) []string {
				dirs, err := filepath.Glob(filepath.Join(out, "runs", "sensor="+testSensor, "date=*", "hour=*"))
				require.NoError(t, err)
				require.Len(t, dirs, 1)
				bad := filepath.Join(dirs[0], "part-x-0001.parquet")
				require.NoError(t, os.WriteFile(bad, []byte("PAR1 not really a parquet file PAR1"), 0o644))
				return []string{"corrupt or foreign", bad}
			},
		},
		{
			name:     "foreign parquet file in the runs table",
			archived: true,
			setup: func(t *testing.T, out string) []string {
				dirs, err := filepath.Glob(filepath.Join(out, "runs", "sensor="+testSensor, "date=*", "hour=*"))
				require.NoError(t, err)
				require.Len(t, dirs, 1)
				// A valid Parquet file of the adus table where runs belong.
				parts, err := filepath.Glob(filepath.Join(out, "adus", "*", "*", "*", "*.parquet"))
				require.NoError(t, err)
				require.NotEmpty(t, parts)
				b, err := os.ReadFile(parts[0])
				require.NoError(t, err)
				bad := filepath.Join(dirs[0], "part-x-0001.parquet")
				require.NoError(t, os.WriteFile(bad, b, 0o644))
				return []string{"corrupt or foreign", bad}
			},
		},
		{
			name:     "corrupt part at the top of the runs table",
			archived: true,
			setup: func(t *testing.T, out string) []string {
				bad := filepath.Join(out, "runs", "part-x-0001.parquet")
				require.NoError(t, os.WriteFile(bad, []byte("PAR1 not really a parquet file PAR1"), 0o644))
				return []string{"corrupt or foreign", bad}
			},
		},
		{
			name: "archive path is a regular file",
			setup: func(t *testing.T, out string) []string {
				require.NoError(t, os.WriteFile(out, []byte("not a directory\n"), 0o644))
				return []string{"create archive", out, "not a directory"}
			},
		},
		{
			name: "table path is a regular file",
			setup: func(t *testing.T, out string) []string {
				require.NoError(t, os.MkdirAll(out, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(out, "adus"), nil, 0o644))
				return []string{filepath.Join(out, "adus"), "not a directory"}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "archive")
			if tc.archived {
				mustArchive(t, out, capturePath("trex_Oracle.pcap"))
			}
			want := tc.setup(t, out)
			before := snapshot(t, out)
			code, stderr := archiveRun(t, out, capturePath("zeek_smtp.pcap"))
			require.Equal(t, 1, code, stderr)
			for _, w := range want {
				require.Contains(t, stderr, w)
			}
			require.NotContains(t, stderr, "Run 'adu2parquet --help'", "not a usage error")
			if tc.archived {
				require.Equal(t, before, snapshot(t, out), "a run refused at start changed the archive")
			}
			require.Empty(t, leftovers(t, out))
		})
	}
}

// TestArchiveDiskFull archives into a 256 KiB tmpfs a capture whose archive
// is bigger: the run fails with exit status 1 and a clear message, leaves
// no temporary file, and every file it did publish is whole.
func TestArchiveDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { require.NoError(t, exec.Command("umount", mnt).Run()) })
	out := filepath.Join(mnt, "archive")
	code, stderr := archiveRun(t, out, "--grace", "1s", benchInput(t))
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "no space left on device")
	require.Equal(t, 1, strings.Count(stderr, "adu2parquet: "), "one error line:\n%s", stderr)
	require.Empty(t, leftovers(t, out))
	readTables(t, out)
	// The cause is said once, not once per layer that saw it.
	require.Equal(t, 1, strings.Count(stderr, "no space left on device"), stderr)

	// Without -q the summary says what was published before the error.
	published := len(parquetFiles(t, out))
	require.NoError(t, exec.Command("umount", mnt).Run())
	require.NoError(t, exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).Run()) // room for some hours
	code, _, stderr = runCmd(t, nil, "--out", out, "--sensor", testSensor, "--grace", "1s", benchInput(t))
	require.Equal(t, 1, code, stderr)
	m := regexp.MustCompile(`failed; published before the error: (\d+) ADUs, \d+ connections, (\d+) files`).FindStringSubmatch(stderr)
	require.NotNil(t, m, stderr)
	files, _ := strconv.Atoi(m[2])
	require.Equal(t, len(parquetFiles(t, out)), files, "the summary counts the files published")
	require.Positive(t, files, "some hours were published before the disk filled (earlier: %d)", published)
	adus, _ := strconv.Atoi(m[1])
	require.Positive(t, adus)
}

// lateCapture writes a pcap whose records come partly late for their hour
// with a tiny --grace: connection C ends within 10:59, connection A opens at
// 10:59:50 and sends its request at 10:59:55, then 20,000 pure ACKs of
// connection B pass in 11:00 (so adu2parquet advances its clock past 11:00
// and publishes hour 10 with C's rows), and only then does A's server
// answer and A close. A's request ADU and A's connection row belong to hour
// 10 and go to a late part. variant changes the addresses (and so the
// file's fingerprint).
func lateCapture(t *testing.T, path string, variant byte) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	pw := pcapgo.NewWriter(w)
	require.NoError(t, pw.WriteFileHeader(65536, layers.LinkTypeEthernet))
	base := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	type ep struct {
		ip   net.IP
		port uint16
	}
	server := ep{net.IPv4(10, 2, 0, 1), 80}
	write := func(at time.Time, from, to ep, seq, ack uint32, flags string, payload int) {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: from.ip.To4(), DstIP: to.ip.To4()}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(from.port), DstPort: layers.TCPPort(to.port), Seq: seq, Ack: ack, Window: 65535,
			SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"), FIN: strings.Contains(flags, "F"), PSH: payload > 0}
		require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
		buf := gopacket.NewSerializeBuffer()
		require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tcp, gopacket.Payload(make([]byte, payload))))
		b := buf.Bytes()
		require.NoError(t, pw.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(b), Length: len(b)}, b))
	}
	// conn plays one connection: handshake at t, a request of req bytes,
	// a response of resp bytes after gap (with pure ACKs of filler in
	// between), then FINs.
	conn := func(t0 time.Time, client ep, req, resp int, gap time.Duration, filler func()) time.Time {
		ms := time.Millisecond
		write(t0, client, server, 1000, 0, "S", 0)
		write(t0.Add(1*ms), server, client, 5000, 1001, "SA", 0)
		write(t0.Add(2*ms), client, server, 1001, 5001, "A", 0)
		at := t0.Add(5 * time.Second)
		write(at, client, server, 1001, 5001, "A", req)
		write(at.Add(1*ms), server, client, 5001, 1001+uint32(req), "A", 0)
		if filler != nil {
			filler()
		}
		at = at.Add(gap)
		c, s := 1001+uint32(req), 5001+uint32(resp)
		write(at, server, client, 5001, c, "A", resp)
		write(at.Add(1*ms), client, server, c, s, "A", 0)
		write(at.Add(2*ms), client, server, c, s, "FA", 0)
		write(at.Add(3*ms), server, client, s, c+1, "FA", 0)
		write(at.Add(4*ms), client, server, c+1, s+1, "A", 0)
		return at.Add(4 * ms)
	}
	connC := ep{net.IPv4(10, 1, variant, 3), 40003}
	connA := ep{net.IPv4(10, 1, variant, 1), 40001}
	connB := ep{net.IPv4(10, 1, variant, 2), 40002}
	conn(base.Add(59*time.Minute), connC, 300, 3000, 10*time.Second, nil)
	conn(base.Add(59*time.Minute+50*time.Second), connA, 100+int(variant), 2000, 35*time.Second, func() {
		// B: handshake in hour 11, then pure ACKs.
		t0 := base.Add(time.Hour + time.Second)
		write(t0, connB, server, 7000, 0, "S", 0)
		write(t0.Add(time.Millisecond), server, connB, 9000, 7001, "SA", 0)
		for i := range 20000 {
			write(t0.Add(time.Duration(2+i)*time.Millisecond), connB, server, 7001, 9001, "A", 0)
		}
	})
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// TestArchiveCompact archives two runs into the same hours with a tiny
// grace so each has late parts, compacts, and checks that every hour is one
// file with the same rows; then replaces one run and checks that its rows
// left the compacted files and came back once.
func TestArchiveCompact(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "archive")
	in1, in2 := filepath.Join(dir, "one.pcap"), filepath.Join(dir, "two.pcap")
	lateCapture(t, in1, 1)
	lateCapture(t, in2, 2)
	mustArchive(t, out, "--grace", "1ms", in1)
	mustArchive(t, out, "--grace", "1ms", in2)
	want := expectFromJSONL(t, []string{in1}, []string{in2})

	before := readTables(t, out)
	require.Equal(t, want.adus, int64(len(before.adus)))
	require.Equal(t, want.conns, int64(len(before.conns)))
	lateParts := 0
	for _, files := range before.files {
		for _, f := range files {
			if strings.HasSuffix(f, "-0002.parquet") {
				lateParts++
			}
		}
	}
	// adus and connections of hour 10, for each run.
	require.Equal(t, 4, lateParts, "late parts: %v", before.files)
	hourDirs := func(tb tables) map[string]int {
		m := map[string]int{}
		for _, files := range tb.files {
			for _, f := range files {
				m[filepath.Dir(f)]++
			}
		}
		return m
	}
	require.Equal(t, 4, hourDirs(before)[filepath.Join("adus", "sensor="+testSensor, "date=2024-03-01", "hour=10")])

	code, stdout, stderr := runCmd(t, nil, "compact", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stdout)
	require.NotContains(t, stderr, "skipped (a writer")
	after := readTables(t, out)
	requireRollupsCurrent(t, out, after)
	for d, n := range hourDirs(after) {
		require.Equal(t, 1, n, "%s: files after compaction", d)
	}
	for table, files := range after.files {
		for _, f := range files {
			if table != rollup.Table {
				require.Contains(t, filepath.Base(f), "part-compact-", f)
			}
		}
	}
	names := runNames(before.runs)
	require.Equal(t, aduKeys(before.adus, names), aduKeys(after.adus, runNames(after.runs)), "compaction kept every adus row once")
	require.Len(t, after.conns, len(before.conns))
	require.Len(t, after.runs, 2)
	require.Empty(t, leftovers(t, out))
	db := openDuck(t)
	require.Equal(t, want.adus, queryInt(t, db, "SELECT count(*) FROM "+scan(out, "adus")))
	require.Equal(t, want.conns, queryInt(t, db, "SELECT count(*) FROM "+scan(out, "connections")))
	require.Equal(t, int64(2), queryInt(t, db, "SELECT count(*) FROM "+scan(out, "runs")))

	// Replace run two, then run one: the replaced run's rows leave the
	// compacted files (for run one, which by then is alone in them, leaving
	// the hour empty) and come back once, in new parts of the new run.
	for _, tc := range []struct{ name, input string }{{"two.pcap", in2}, {"one.pcap", in1}} {
		var old string
		for id, n := range runNames(readTables(t, out).runs) {
			if n == tc.name {
				old = id
			}
		}
		require.NotEmpty(t, old)
		mustArchive(t, out, "--grace", "1ms", "--replace", tc.input)
		replaced := readTables(t, out)
		require.Empty(t, leftovers(t, out))
		requireRollupsCurrent(t, out, replaced)
		require.Equal(t, aduKeys(before.adus, names), aduKeys(replaced.adus, runNames(replaced.runs)),
			"replacing %s kept every adus row once", tc.name)
		require.Len(t, replaced.conns, len(before.conns))
		require.Len(t, replaced.runs, 2)
		for _, r := range replaced.adus {
			require.NotEqual(t, old, r.RunID)
		}
		for _, r := range replaced.conns {
			require.NotEqual(t, old, r.RunID)
		}
		for _, r := range replaced.runs {
			require.NotEqual(t, old, r.RunID)
		}
		// No compacted file still claims the replaced run.
		for _, files := range replaced.files {
			for _, rel := range files {
				f, err := os.Open(filepath.Join(out, rel))
				require.NoError(t, err)
				st, err := f.Stat()
				require.NoError(t, err)
				pf, err := parquet.OpenFile(f, st.Size())
				require.NoError(t, err)
				ids, _ := pf.Lookup(schema.MetaRunIDs)
				require.NoError(t, f.Close())
				require.NotContains(t, strings.Split(ids, ","), old, rel)
			}
		}
		require.Equal(t, want.adus, queryInt(t, db, "SELECT count(*) FROM "+scan(out, "adus")))
		require.Equal(t, want.conns, queryInt(t, db, "SELECT count(*) FROM "+scan(out, "connections")))
	}
}

// The crash tests run the real binary, and a capture big enough that a run
// takes a second or two and publishes hours as it goes; both are built once
// into sharedDir.
var (
	sharedDir  string
	buildOnce  sync.Once
	buildErr   error
	binPath    string
	benchPath  string
	benchFiles = []string{"zeek_echo-connections.pcap.gz", "mercury_emix.pcap", "pcapplusplus_example.pcap"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		_ = os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func buildShared() {
	sharedDir, buildErr = os.MkdirTemp("", "adu2parquet-test-")
	if buildErr != nil {
		return
	}
	binPath = filepath.Join(sharedDir, "adu2parquet")
	benchPath = filepath.Join(sharedDir, "bench.pcap")
	goCmd := func(args ...string) error {
		cmd := exec.Command("go", args...)
		cmd.Dir = "../.." // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if buildErr = goCmd("build", "-o", binPath, "./cmd/adu2parquet"); buildErr != nil {
		return
	}
	// 300,000 packets spanning 70 hours (mercury_emix's pauses, shortened
	// to 1 h): about 170,000 ADUs in some 40 hours.
	args := []string{"run", "./scripts/mkbench", "-o", benchPath, "-packets", "300000"}
	for _, f := range benchFiles {
		args = append(args, filepath.Join("testdata", "pcaps", f))
	}
	buildErr = goCmd(args...)
}

// adu2parquetBinary returns the built program.
func adu2parquetBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(buildShared)
	require.NoError(t, buildErr)
	return binPath
}

// benchInput returns the big capture.
func benchInput(t *testing.T) string {
	t.Helper()
	buildOnce.Do(buildShared)
	require.NoError(t, buildErr)
	return benchPath
}

// startArchive starts the binary archiving input into out with a 1 s
// grace, so hours are published while it runs.
func startArchive(t *testing.T, out, input string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(adu2parquetBinary(t), "-q", "--out", out, "--sensor", testSensor, "--grace", "1s", input)
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	return cmd, &stderr
}

// exitCode waits for cmd and returns its exit status (-1 when killed).
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// requireReadable checks the archive as a crash left it: every *.parquet
// is whole and readable with parquet-go, and DuckDB reads each table, and
// the whole archive, with a glob, finding the same rows.
func requireReadable(t *testing.T, out string) tables {
	t.Helper()
	tb := readTables(t, out)
	if len(tb.files) == 0 {
		return tb
	}
	db := openDuck(t)
	counts := map[string]int{schema.TableADUs: len(tb.adus), schema.TableConnections: len(tb.conns), schema.TableRuns: len(tb.runs)}
	total := int64(0)
	for table, n := range counts {
		total += int64(n)
		if len(tb.files[table]) == 0 {
			continue
		}
		require.Equal(t, int64(n), queryInt(t, db, "SELECT count(*) FROM "+scan(out, table)), table)
	}
	// The tables with files through one glob each (the rollups are derived
	// rows).
	var globs []string
	for _, table := range schema.Tables {
		if len(tb.files[table]) > 0 {
			globs = append(globs, "'"+filepath.Join(out, table, "**", "*.parquet")+"'")
		}
	}
	all := fmt.Sprintf("read_parquet([%s], hive_partitioning = true, union_by_name = true)", strings.Join(globs, ", "))
	require.Equal(t, total, queryInt(t, db, "SELECT count(*) FROM "+all))
	return tb
}

// TestArchiveCrash kills adu2parquet with SIGKILL at several points of a
// run. Wherever the kill lands, the archive holds only whole Parquet files
// that parquet-go and DuckDB read, and running the same input again (no
// --replace) gives exactly the rows of a clean run, leaving no temporary,
// spill or journal file.
func TestArchiveCrash(t *testing.T) {
	input := benchInput(t)
	clean := filepath.Join(t.TempDir(), "clean")
	began := time.Now()
	cmd, stderr := startArchive(t, clean, input)
	require.Equal(t, 0, exitCode(t, cmd), stderr.String())
	took := time.Since(began)
	want := readTables(t, clean)
	require.Len(t, want.runs, 1)
	require.Greater(t, len(want.files[schema.TableADUs]), 20, "the run publishes many hours")
	wantKeys := aduKeys(want.adus, runNames(want.runs))
	t.Logf("clean run: %v, %d adus rows, %d connections rows, %d files", took.Round(time.Millisecond),
		len(want.adus), len(want.conns), len(want.files[schema.TableADUs])+len(want.files[schema.TableConnections]))

	for _, pct := range []int{10, 30, 50, 70, 90} {
		t.Run(fmt.Sprintf("kill at %d%%", pct), func(t *testing.T) {
			t.Parallel() // each in its own archive; slower runs only move the kill earlier
			out := filepath.Join(t.TempDir(), "archive")
			cmd, stderr := startArchive(t, out, input)
			time.Sleep(took * time.Duration(pct) / 100)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			code := exitCode(t, cmd)
			finished := code != -1 // it ended before the kill
			if finished {
				require.Equal(t, 0, code, stderr.String())
			}

			crashed := requireReadable(t, out)
			// The killed run is complete once its runs row is published.
			complete := len(crashed.runs) == 1
			require.LessOrEqual(t, len(crashed.runs), 1)
			t.Logf("killed: finished=%v complete=%v, %d of %d adus rows, %d files published",
				finished, complete, len(crashed.adus), len(want.adus), len(parquetFiles(t, out)))

			again, stderr := startArchive(t, out, input)
			code = exitCode(t, again)
			if complete {
				require.Equal(t, 1, code, stderr.String())
				require.Contains(t, stderr.String(), "already archived")
			} else {
				require.Equal(t, 0, code, stderr.String())
			}

			got := requireReadable(t, out)
			require.Len(t, got.runs, 1)
			require.Len(t, got.adus, len(want.adus))
			require.Len(t, got.conns, len(want.conns))
			require.Equal(t, int64(len(want.adus)), got.runs[0].ADUs)
			require.Equal(t, int64(len(want.conns)), got.runs[0].Connections)
			require.Equal(t, wantKeys, aduKeys(got.adus, runNames(got.runs)))
			if !complete {
				// The re-run wrote the days, so it brought their rollups up
				// to date. (A run killed after publishing its runs row may
				// leave rollups stale: abtq then reads the ADU rows, and
				// 'adu2parquet rollup' rebuilds them.)
				requireRollupsCurrent(t, out, got)
			}
			// (The killed run's journal: see internal/archive's
			// TestRecoverCrashedRun.)
			require.Empty(t, leftovers(t, out))
		})
	}
}

// TestArchiveRollupWarning: a corrupt adus part on another day does not
// fail a run (its rows are archived; rollups only speed queries up): the
// day's rollup is not built, a warning names the file, the run's own days
// get current rollups, and 'adu2parquet rollup' reports the failure with
// exit status 1.
func TestArchiveRollupWarning(t *testing.T) {
	out := filepath.Join(t.TempDir(), "archive")
	mustArchive(t, out, capturePath("trex_Oracle.pcap"))
	dirs, err := filepath.Glob(filepath.Join(out, "adus", "sensor="+testSensor, "date=*", "hour=*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	bad := filepath.Join(dirs[0], "part-x-0001.parquet")
	require.NoError(t, os.WriteFile(bad, []byte("PAR1 not really a parquet file PAR1"), 0o644))

	code, stderr := archiveRun(t, out, capturePath("zeek_smtp.pcap"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "warning")
	require.Contains(t, stderr, bad)
	days, err := filepath.Glob(filepath.Join(out, "adus", "sensor="+testSensor, "date=*"))
	require.NoError(t, err)
	require.Len(t, days, 3, "oracle's day and smtp's two")
	for _, d := range days {
		day, err := time.Parse("2006-01-02", strings.TrimPrefix(filepath.Base(d), "date="))
		require.NoError(t, err)
		rd := rollup.Day{Sensor: testSensor, Date: day}
		ok, err := rollup.IsCurrent(out, rd)
		if strings.Contains(bad, filepath.Base(d)) {
			require.ErrorContains(t, err, bad, "a corrupt part is reported")
			continue
		}
		require.NoError(t, err)
		require.Equal(t, !strings.Contains(bad, filepath.Base(d)), ok, "rollup of %s", rd)
	}
	require.Empty(t, leftovers(t, out))

	code, _, stderr = runCmd(t, nil, "rollup", "--out", out)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, bad)
	require.Contains(t, stderr, "1 failed")
}
