// Command csvq is the CSV side of scripts/query-bench.sh: it runs one SQL
// query with an embedded DuckDB over the gzip'd CSV that abtgen --csv
// writes, with the same adus and response_times views as abtq, and prints the
// result as TSV. It exists to compare the archive with the CSV route; it
// is not part of the product.
//
//	csvq FILE.csv.gz "SELECT ..."
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/abt-dev/abt/internal/query"
	"github.com/abt-dev/abt/internal/rollup"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: csvq FILE.csv.gz QUERY")
		return 2
	}
	if err := runQuery(ctx, args[0], args[1], stdout); err != nil {
		fmt.Fprintf(stderr, "csvq: %s\n", strings.SplitN(err.Error(), "\n", 2)[0])
		return 1
	}
	return 0
}

func runQuery(ctx context.Context, file, stmt string, w io.Writer) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	lit := "'" + strings.ReplaceAll(file, "'", "''") + "'"
	// The CSV as the adus table's files (it has the adus view's columns
	// but for the lag, which the views need), then abtq's macros and the
	// views over it (queries/archive).
	stmts := append(slices.Clone(rollup.Macros),
		`CREATE VIEW abt_adus_files AS SELECT *, 'synth' AS sensor, 'csv' AS run_id, 0::BIGINT AS decided_lag_us FROM read_csv(`+lit+`, header = true, columns = {
			'ts': 'TIMESTAMP', 'server_ip': 'VARCHAR', 'server_port': 'INTEGER', 'client_ip': 'VARCHAR',
			'client_port': 'INTEGER', 'conn_id': 'BIGINT', 'ordinal': 'INTEGER', 'direction': 'VARCHAR',
			'size': 'BIGINT', 'duration_us': 'BIGINT', 'think_us': 'BIGINT', 'concurrent': 'BOOLEAN', 'complete': 'BOOLEAN',
			'think_to_peer': 'BOOLEAN'})`,
		"CREATE MACRO abt_in_range(ts) AS true")
	for _, s := range append(stmts, query.ViewStatements("abt_adus_files")...) {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	rows, err := db.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, strings.Join(cols, "\t"))
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			if i > 0 {
				fmt.Fprint(w, "\t")
			}
			fmt.Fprint(w, v)
		}
		fmt.Fprintln(w)
	}
	return rows.Err()
}
