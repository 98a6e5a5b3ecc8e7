package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

// countSQL and countCSV are TestSQL's query and answer: after any attack
// the archive must still give it.
const (
	countSQL = "SELECT direction, count(*) AS n, sum(size) AS bytes FROM adus GROUP BY ALL ORDER BY ALL"
	countCSV = "direction,n,bytes\nc2s,393,238758\ns2c,396,3668878\n"
)

// world is what one abtq run could write to: a copy of the committed
// archive (A), the current directory, an output directory (D, holding
// secret.csv), $TMPDIR and $HOME. Queries for --file live elsewhere.
type world struct {
	arch, cwd, out, tmp, home, queries string
}

func newWorld(t *testing.T) world {
	t.Helper()
	root := t.TempDir()
	w := world{
		arch: filepath.Join(root, "A"), cwd: filepath.Join(root, "cwd"), out: filepath.Join(root, "D"),
		tmp: filepath.Join(root, "tmp"), home: filepath.Join(root, "home"), queries: filepath.Join(root, "q"),
	}
	require.NoError(t, os.CopyFS(w.arch, os.DirFS(testArchive)))
	for _, d := range []string{w.cwd, w.out, w.tmp, w.home, w.queries} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(w.out, "secret.csv"), []byte("secret\n42\n"), 0o644))
	t.Setenv("TMPDIR", w.tmp)
	t.Setenv("HOME", w.home)
	t.Chdir(w.cwd)
	return w
}

// snapshot lists the name, mode, size and mtime of everything in the
// world's directories and of the directories themselves, but for $TMPDIR,
// whose mtime abtq's private directory changes as it comes and goes.
func (w world) snapshot(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, root := range []string{w.arch, w.cwd, w.out, w.tmp, w.home} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == w.tmp {
				return err
			}
			st, err := d.Info()
			if err != nil {
				return err
			}
			m[p] = fmt.Sprintf("%v %d %d", st.Mode(), st.Size(), st.ModTime().UnixNano())
			return nil
		})
		require.NoError(t, err)
	}
	return m
}

func runCmdIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// sources runs abtq sql with the query as the argument, in --file and on
// standard input; flags go before the query.
func (w world) sources(t *testing.T, stmt string, flags ...string) map[string]func() (int, string, string) {
	file := filepath.Join(w.queries, "query.sql")
	base := []string{"--archive", w.arch, "--format", "csv", "sql"}
	return map[string]func() (int, string, string){
		"argument": func() (int, string, string) {
			// "--": a query may start with a comment.
			return runCmdIn(t, "", append(append(base, flags...), "--", stmt)...)
		},
		"file": func() (int, string, string) {
			require.NoError(t, os.WriteFile(file, []byte(stmt), 0o644))
			return runCmdIn(t, "", append(append(base, flags...), "--file", file)...)
		},
		"stdin": func() (int, string, string) {
			return runCmdIn(t, stmt, append(base, flags...)...)
		},
	}
}

// requireRefused: exit status 2, nothing on stdout, one line on stderr
// saying what is allowed.
func requireRefused(t *testing.T, code int, out, stderr string) {
	t.Helper()
	require.Equal(t, 2, code, stderr)
	require.Empty(t, out)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one-line error: %s", stderr)
	require.True(t, strings.HasPrefix(stderr, "abtq: refused "), stderr)
	require.Contains(t, stderr, "exactly one SELECT statement")
}

// TestSQLAttacks: statements that write, attach, load, reconfigure or copy
// (alone, after or before a SELECT, hidden behind comments and strings,
// inside EXPLAIN ANALYZE or a table function) are refused with exit
// status 2, from the argument, --file and standard input alike, and
// change nothing anywhere; the archive then still answers.
func TestSQLAttacks(t *testing.T) {
	w := newWorld(t)
	a, d := w.arch, w.out
	attacks := []string{
		fmt.Sprintf("COPY (SELECT 42 AS x) TO '%s/x.csv'; SELECT 1", a),
		"SELECT 1; COPY (SELECT 42 AS x) TO 'x.csv'",
		fmt.Sprintf("ATTACH '%s/new.duckdb'", a),
		fmt.Sprintf("ATTACH '%s/new.duckdb' AS n; CREATE TABLE n.t AS SELECT 1; SELECT 1", a),
		"CREATE VIEW v AS SELECT 1; SELECT 1",
		"CREATE OR REPLACE VIEW adus AS SELECT 1 AS x",
		"DROP VIEW adus; SELECT 1",
		"DROP VIEW adus",
		"CREATE TABLE t AS SELECT 1",
		"INSTALL httpfs; SELECT 1",
		"LOAD httpfs; SELECT 1",
		fmt.Sprintf("PRAGMA enable_profiling = 'json'; PRAGMA profiling_output = '%s/p.json'; SELECT 1", a),
		"PRAGMA version",
		"SET lock_configuration = false; SELECT 1",
		fmt.Sprintf("SET temp_directory = '%s'", a),
		"CALL checkpoint()",
		fmt.Sprintf("CALL enable_profiling(format = 'json', save_location = '%s/p.json')", a),
		fmt.Sprintf("EXPORT DATABASE '%s/export'; SELECT 1", d),
		fmt.Sprintf("IMPORT DATABASE '%s'", a),
		"CHECKPOINT; SELECT 1",
		"COPY adus TO 'x.parquet'",
		fmt.Sprintf("EXPLAIN ANALYZE COPY (SELECT 1) TO '%s/f.csv'", a),
		"EXPLAIN SELECT 1",
		"PIVOT adus ON direction USING count(*)",
		// Comments and strings.
		fmt.Sprintf("SELECT ';'; COPY (SELECT 1) TO '%s/s.csv'", a),
		"SELECT 1 -- ;\n; COPY (SELECT 1) TO 'c.csv'",
		"SELECT 1 /* ; */; COPY (SELECT 1) TO 'c.csv'",
		"SELECT $$;$$; COPY (SELECT 1) TO 'c.csv'",
		"/* SELECT 1; */ COPY (SELECT 1) TO 'c.csv'",
		// SELECTs that would write or run SQL from a string.
		fmt.Sprintf("SELECT * FROM enable_profiling(format = 'json', save_location = '%s/p.json')", a),
		fmt.Sprintf("FROM enable_logging(storage = 'file', storage_path = '%s/logs')", a),
		fmt.Sprintf("SELECT * FROM query('COPY (SELECT 1) TO ''%s/q.csv''')", a),
		"SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM enable_profiling()'))",
	}
	for _, stmt := range attacks {
		t.Run(stmt, func(t *testing.T) {
			for name, runIt := range w.sources(t, stmt) {
				before := w.snapshot(t)
				code, out, stderr := runIt()
				requireRefused(t, code, out, stderr)
				require.Equal(t, before, w.snapshot(t), "%s: nothing changed", name)
			}
			code, out, stderr := runCmd(t, "--archive", w.arch, "--format", "csv", "sql", countSQL)
			require.Equal(t, 0, code, stderr)
			require.Equal(t, countCSV, out)
		})
	}
}

// TestSQLTerminatorsAndComments: one SELECT with a terminator, comments
// or strings holding ';' runs, from every source, and writes nothing.
func TestSQLTerminatorsAndComments(t *testing.T) {
	w := newWorld(t)
	tests := []struct{ stmt, want string }{
		{"SELECT ';' AS s", "s\n;\n"},
		{"SELECT 1 AS x; -- x", "x\n1\n"},
		{"SELECT 1 AS x /* ; DROP VIEW adus */", "x\n1\n"},
		{"SELECT $$;$$ AS s;", "s\n;\n"},
		{"-- the ADUs\nSELECT count(*) AS n FROM adus;\n", "n\n789\n"},
	}
	for _, tc := range tests {
		t.Run(tc.stmt, func(t *testing.T) {
			for name, runIt := range w.sources(t, tc.stmt) {
				before := w.snapshot(t)
				code, out, stderr := runIt()
				require.Equal(t, 0, code, "%s: %s", name, stderr)
				require.Equal(t, tc.want, out, name)
				require.Equal(t, before, w.snapshot(t), name)
			}
		})
	}
}

// TestSQLSpillsPrivately: a sort larger than --memory-limit spills to
// abtq's private temporary directory (duckbox.TestSpillQuerySpills shows
// this query cannot run without spilling), not to DuckDB's default .tmp
// under the current directory, so it runs in a read-only one. Tests run
// as root, whom a 0555 mode does not stop: then the proof is that nothing
// appeared in the current directory.
func TestSQLSpillsPrivately(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, os.Chmod(w.cwd, 0o555))
	t.Cleanup(func() { _ = os.Chmod(w.cwd, 0o755) })
	probe := filepath.Join(w.cwd, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err == nil {
		require.NoError(t, os.Remove(probe))
		t.Log("the current directory is writable despite 0555 (root): checking that nothing is written in it")
	}
	before := w.snapshot(t)
	code, out, stderr := runCmd(t, "--archive", w.arch, "--format", "tsv", "--threads", "1", "--memory-limit", "10MB", "sql",
		"SELECT count(*) AS n, sum(x) AS s FROM (SELECT x FROM range(3000000) t(x) ORDER BY x DESC)")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "n\ts\n3000000\t4499998500000\n", out)
	require.Equal(t, before, w.snapshot(t))
}

// TestSQLOutput: --output lets DuckDB write that file only, not read its
// directory; the file is complete when it appears, and a failing query
// leaves an existing one as it was.
func TestSQLOutput(t *testing.T) {
	w := newWorld(t)
	out := filepath.Join(w.out, "out.parquet")

	before := w.snapshot(t)
	code, stdout, stderr := runCmd(t, "--archive", w.arch, "--format", "parquet", "--output", out, "sql",
		fmt.Sprintf("SELECT * FROM read_csv('%s/secret.csv')", w.out))
	require.Equal(t, 1, code, stderr)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "Permission Error")
	require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	require.Equal(t, before, w.snapshot(t))

	code, _, stderr = runCmd(t, "--archive", w.arch, "--format", "parquet", "--output", out, "sql", "SELECT 42 AS x; -- the answer")
	require.Equal(t, 0, code, stderr)
	rows, err := parquet.ReadFile[struct {
		X int32 `parquet:"x"`
	}](out)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, int32(42), rows[0].X)

	csvOut := filepath.Join(w.out, "out.csv")
	code, _, stderr = runCmd(t, "--archive", w.arch, "--format", "csv", "--output", csvOut, "sql", "SELECT 42 AS x")
	require.Equal(t, 0, code, stderr)
	b, err := os.ReadFile(csvOut)
	require.NoError(t, err)
	require.Equal(t, "x\n42\n", string(b))

	// NaN prints as "nan" (JSON has no NaN), and a query DuckDB fails
	// leaves an --output file as it was.
	nan := "SELECT CASE WHEN i < 5000 THEN i::DOUBLE ELSE 'NaN'::DOUBLE END AS i FROM range(10000) t(i) ORDER BY i"
	code, stdout, stderr = runCmd(t, "--archive", w.arch, "--format", "json", "sql", nan)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, `{"i":4999}`)
	require.Contains(t, stdout, `{"i":"nan"}`)
	jsonOut := filepath.Join(w.out, "out.json")
	require.NoError(t, os.WriteFile(jsonOut, []byte("old\n"), 0o644))
	before = w.snapshot(t)
	code, _, stderr = runCmd(t, "--archive", w.arch, "--format", "json", "--output", jsonOut, "sql", "SELECT error('boom') FROM range(10)")
	require.Equal(t, 1, code, stderr)
	require.Equal(t, before, w.snapshot(t))

	// A query DuckDB fails leaves the Parquet file as it was.
	before = w.snapshot(t)
	code, _, stderr = runCmd(t, "--archive", w.arch, "--format", "parquet", "--output", out, "sql", "SELECT error('boom') FROM range(10)")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "boom")
	require.Equal(t, before, w.snapshot(t))

	es, err := os.ReadDir(w.out)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"out.csv", "out.json", "out.parquet", "secret.csv"}, names)
}

// TestSQLExplain: --explain prints the plan, --analyze runs the query and
// prints the plan with timings; both check the query first, so neither
// explains a COPY.
func TestSQLExplain(t *testing.T) {
	w := newWorld(t)
	base := []string{"--archive", w.arch, "sql"}

	code, out, stderr := runCmd(t, append(base, "--explain", "SELECT count(*) FROM adus;")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "READ_PARQUET")
	require.NotContains(t, out, "Total Time")

	code, out, stderr = runCmdIn(t, "SELECT count(*) FROM adus -- all", append(base, "--analyze")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "READ_PARQUET")
	require.Contains(t, out, "Total Time")

	before := w.snapshot(t)
	for _, flag := range []string{"--explain", "--analyze"} {
		for _, stmt := range []string{
			fmt.Sprintf("COPY (SELECT 1) TO '%s/f.csv'", w.arch),
			fmt.Sprintf("SELECT 1; COPY (SELECT 1) TO '%s/f.csv'", w.arch),
		} {
			code, out, stderr = runCmd(t, append(base, flag, stmt)...)
			requireRefused(t, code, out, stderr)
		}
	}
	require.Equal(t, before, w.snapshot(t))

	for _, args := range [][]string{
		{"--archive", w.arch, "sql", "--explain", "--analyze", "SELECT 1"},
		{"--archive", w.arch, "--format", "parquet", "--output", filepath.Join(w.out, "p.parquet"), "sql", "--explain", "SELECT 1"},
	} {
		code, _, stderr = runCmd(t, args...)
		require.Equal(t, 2, code, stderr)
	}
}
