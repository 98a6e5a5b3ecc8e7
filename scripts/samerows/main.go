// Command samerows compares the adus and connections tables of two
// archives written from the same input (by two builds of adu2parquet, say)
// in an embedded DuckDB: the same rows, every column but run_id, as
// multisets (EXCEPT ALL, both ways); the same rows at the same place, that
// is in the part of the same hour with the same number and at the same row
// of it (the file order); and row groups of the same sizes. It prints a
// line per table and check, and exits 1 if anything differs.
//
//	go run ./scripts/samerows ARCHIVE_A ARCHIVE_B
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/schema"
)

func main() {
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: samerows ARCHIVE_A ARCHIVE_B")
		os.Exit(2)
	}
	same, err := run(context.Background(), flag.Arg(0), flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "samerows:", err)
		os.Exit(1)
	}
	if !same {
		fmt.Println("DIFFERENT")
		os.Exit(1)
	}
	fmt.Println("same rows, same files, same order")
}

// partKey turns a file's path into its part's place: hour directory and
// part number, without the archive, sensor or run.
const partKey = `regexp_replace(%s, '^.*/(date=[^/]+/hour=[^/]+)/[^/]*part-.*-([0-9]+)\.parquet$', '\1/\2')`

func run(ctx context.Context, a, b string) (bool, error) {
	var dirs []string
	for _, d := range []string{a, b} {
		abs, err := filepath.Abs(d)
		if err != nil {
			return false, err
		}
		dirs = append(dirs, abs)
	}
	box, err := duckbox.Open(ctx, duckbox.Options{Dirs: dirs})
	if err != nil {
		return false, err
	}
	defer box.Close()
	exec := func(q string) error {
		_, err := box.Conn.ExecContext(ctx, q)
		return err
	}
	count := func(q string) (int64, error) {
		var n int64
		err := box.Conn.QueryRowContext(ctx, q).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return n, err
	}
	same := true
	for _, table := range []string{schema.TableADUs, schema.TableConnections} {
		var files [2]int
		for i, dir := range dirs {
			m, err := filepath.Glob(filepath.Join(dir, table, "sensor=*", "date=*", "hour=*", "*.parquet"))
			if err != nil {
				return false, err
			}
			files[i] = len(m)
		}
		if files[0] == 0 || files[1] == 0 {
			fmt.Printf("%-12s %-40s %d\n%-12s %-40s %d\n", table, "files in A", files[0], table, "files in B", files[1])
			same = same && files[0] == files[1]
			continue
		}
		for i, dir := range dirs {
			glob := duckbox.Literal(filepath.Join(dir, table, "sensor=*", "date=*", "hour=*", "*.parquet"))
			name := fmt.Sprintf("t%d", i)
			if err := exec(fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS SELECT `+partKey+` AS part, file_row_number AS rn,
				* EXCLUDE (filename, file_row_number, run_id)
				FROM read_parquet(%s, filename = true, file_row_number = true, hive_partitioning = false)`,
				name, "filename", glob)); err != nil {
				return false, fmt.Errorf("read %s: %w", dir, err)
			}
			if err := exec(fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE g%d AS SELECT `+partKey+` AS part, row_group_id, row_group_num_rows
				FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows FROM parquet_metadata(%s))`,
				i, "file_name", glob)); err != nil {
				return false, fmt.Errorf("read %s: %w", dir, err)
			}
		}
		checks := []struct {
			what string
			q    string
		}{
			{"rows in A", `SELECT count(*) FROM t0`},
			{"rows in B", `SELECT count(*) FROM t1`},
			{"files in A", `SELECT count(DISTINCT part) FROM t0`},
			{"files in B", `SELECT count(DISTINCT part) FROM t1`},
			{"rows of A not in B", `SELECT count(*) FROM (SELECT * EXCLUDE (part, rn) FROM t0 EXCEPT ALL SELECT * EXCLUDE (part, rn) FROM t1)`},
			{"rows of B not in A", `SELECT count(*) FROM (SELECT * EXCLUDE (part, rn) FROM t1 EXCEPT ALL SELECT * EXCLUDE (part, rn) FROM t0)`},
			{"rows of A not at the same place in B", `SELECT count(*) FROM (SELECT * FROM t0 EXCEPT ALL SELECT * FROM t1)`},
			{"rows of B not at the same place in A", `SELECT count(*) FROM (SELECT * FROM t1 EXCEPT ALL SELECT * FROM t0)`},
			{"row groups of A not in B", `SELECT count(*) FROM (SELECT * FROM g0 EXCEPT ALL SELECT * FROM g1)`},
			{"row groups of B not in A", `SELECT count(*) FROM (SELECT * FROM g1 EXCEPT ALL SELECT * FROM g0)`},
		}
		var got [4]int64
		for i, c := range checks {
			n, err := count(c.q)
			if err != nil {
				return false, fmt.Errorf("%s: %s: %w", table, c.what, err)
			}
			fmt.Printf("%-12s %-40s %d\n", table, c.what, n)
			switch {
			case i < 4:
				got[i] = n
			case n != 0:
				same = false
			}
		}
		if got[0] != got[1] || got[2] != got[3] {
			same = false
		}
	}
	return same, nil
}
