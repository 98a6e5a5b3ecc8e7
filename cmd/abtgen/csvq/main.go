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
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/abt-dev/abt/internal/rollup"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: csvq FILE.csv.gz QUERY")
		return 2
	}
	if err := query(ctx, args[0], args[1], stdout); err != nil {
		fmt.Fprintf(stderr, "csvq: %s\n", strings.SplitN(err.Error(), "\n", 2)[0])
		return 1
	}
	return 0
}

func query(ctx context.Context, file, stmt string, w io.Writer) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	lit := "'" + strings.ReplaceAll(file, "'", "''") + "'"
	// The macros of the canned queries (abt_bin ...), as abtq defines them.
	for _, s := range append(rollup.Macros,
		`CREATE VIEW adus AS SELECT *, 'synth' AS sensor, 'csv' AS run_id FROM read_csv(`+lit+`, header = true, columns = {
			'ts': 'TIMESTAMP', 'server_ip': 'VARCHAR', 'server_port': 'INTEGER', 'client_ip': 'VARCHAR',
			'client_port': 'INTEGER', 'conn_id': 'BIGINT', 'ordinal': 'INTEGER', 'direction': 'VARCHAR',
			'size': 'BIGINT', 'duration_us': 'BIGINT', 'think_us': 'BIGINT', 'concurrent': 'BOOLEAN', 'complete': 'BOOLEAN',
			'think_to_peer': 'BOOLEAN'})`,
		// The same definition as internal/query/views.go.
		`CREATE VIEW response_times AS
SELECT q.sensor, q.run_id, q.conn_id, q.server_ip, q.server_port, q.client_ip, q.client_port,
  q.ordinal, q.ts AS request_time, q.size AS request_bytes, q.think_us AS response_time_us,
  r.size AS response_bytes, r.think_us AS client_think_us
FROM adus q LEFT JOIN adus r
  ON r.sensor = q.sensor AND r.run_id = q.run_id AND r.conn_id = q.conn_id AND r.ordinal = q.ordinal + 1
  AND r.server_ip = q.server_ip AND r.server_port = q.server_port AND r.direction = 's2c'
WHERE q.direction = 'c2s' AND q.think_to_peer AND NOT q.concurrent AND q.think_us IS NOT NULL`,
	) {
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
