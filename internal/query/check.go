package query

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// ErrRefused is wrapped by the errors of Check for SQL that is not a single
// SELECT statement that only reads: it says what was found, not how DuckDB
// would have failed, because none of it ran.
var ErrRefused = errors.New("query: refused")

// refusal is a Check error that Is ErrRefused.
type refusal struct{ reason string }

func (e *refusal) Error() string        { return "refused " + e.reason }
func (e *refusal) Is(target error) bool { return target == ErrRefused }

// Check decides, before any of stmt runs, that it is exactly one statement
// and a SELECT (DuckDB's parser says so: WITH ... SELECT, VALUES, FROM ...,
// DESCRIBE, SUMMARIZE and SHOW are SELECTs), and that it calls no table
// function that does more than read or generate rows. Everything else is an
// error wrapping ErrRefused; SQL DuckDB cannot parse or bind is DuckDB's
// error.
//
// Why each step:
//   - duckdb-go's PrepareContext and QueryContext run every statement of a
//     multi-statement text but the last, so a count taken by preparing
//     with them comes too late. Check asks the parser: first
//     json_serialize_sql, which parses only (preparing also binds, and
//     binding a table function runs its code) and gives the statements and
//     their function calls, or an error when one is not a SELECT; then
//     Conn.Prepare, which refuses more than one statement without running
//     any and gives the type of the statement as DuckDB will run it.
//   - PRAGMA version and the like are SELECTs only once DuckDB has expanded
//     them, which json_serialize_sql does not do: they are refused, and
//     their table functions (FROM pragma_version()) allowed.
//   - A SELECT can still change DuckDB: enable_profiling(save_location =
//     ...) and enable_logging(storage_path = ...) turn on profiling or
//     logging to a file in the allowed directories (the archive) although
//     the configuration is locked. The file is written by later queries on
//     the connection, and abtq runs none after the user's, but the sandbox
//     should not rest on that. query() and json_execute_serialized_sql()
//     run SQL given as a string, out of this check's sight. Hence the
//     table function list (tablefuncs.go).
//   - EXPLAIN is not a statement Check allows: EXPLAIN ANALYZE runs the
//     statement it explains, COPY included. Explain prefixes a checked
//     SELECT instead.
//
// Callers then run the very text Check saw (or that text behind a prefix
// Check's caller controls); DuckDB parses it again into the same single
// statement.
func (q *DB) Check(ctx context.Context, stmt string) error {
	if err := q.checkParse(ctx, stmt); err != nil {
		return err
	}
	t, err := q.statementType(stmt)
	if err != nil {
		return err
	}
	if t != duckdb.STATEMENT_TYPE_SELECT {
		return &refusal{describe(stmt)}
	}
	return nil
}

// parsed is the part of json_serialize_sql's result Check reads.
type parsed struct {
	Error        bool              `json:"error"`
	ErrorType    string            `json:"error_type"`
	ErrorMessage string            `json:"error_message"`
	Statements   []json.RawMessage `json:"statements"`
}

// checkParse parses stmt with json_serialize_sql (DuckDB's parser; it
// binds and runs nothing) and refuses anything but one SELECT statement,
// and a table function not known to only read.
func (q *DB) checkParse(ctx context.Context, stmt string) error {
	var out string
	// stmt is a bound value: only json_serialize_sql's parser sees it.
	if err := q.conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)", stmt).Scan(&out); err != nil {
		return fmt.Errorf("parse query: %w", err)
	}
	var p parsed
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		return fmt.Errorf("parse query: %w", err)
	}
	switch {
	case p.Error && p.ErrorType == "parser":
		return fmt.Errorf("parse query: %s", p.ErrorMessage)
	case p.Error:
		// "Only SELECT statements can be serialized": some statement is
		// not a SELECT. Which one is worded from the text.
		if n := statementCount(stmt); n > 1 {
			return &refusal{fmt.Sprintf("%d statements", n)}
		}
		return &refusal{describe(stmt)}
	case len(p.Statements) == 0:
		return &refusal{"a text without a statement"}
	case len(p.Statements) > 1:
		return &refusal{fmt.Sprintf("%d statements", len(p.Statements))}
	}
	var tree any
	if err := json.Unmarshal(p.Statements[0], &tree); err != nil {
		return fmt.Errorf("parse query: %w", err)
	}
	return walkFunctions(tree)
}

// walkFunctions refuses a table function (a TABLE_FUNCTION node of the
// parse tree) that is not listed as reading only, and a call anywhere to a
// function listed as refused.
func walkFunctions(n any) error {
	switch n := n.(type) {
	case map[string]any:
		if n["type"] == "TABLE_FUNCTION" {
			f, _ := n["function"].(map[string]any)
			name, _ := f["function_name"].(string)
			if !tableFunctions[strings.ToLower(name)] {
				return &refusal{fmt.Sprintf("table function %s, which does more than read", name)}
			}
		}
		if name, ok := n["function_name"].(string); ok {
			if allowed, known := tableFunctions[strings.ToLower(name)]; known && !allowed {
				return &refusal{fmt.Sprintf("table function %s, which does more than read", name)}
			}
		}
		for _, v := range n {
			if err := walkFunctions(v); err != nil {
				return err
			}
		}
	case []any:
		for _, v := range n {
			if err := walkFunctions(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// statementType prepares stmt with Conn.Prepare, which extracts the
// statements with DuckDB's parser and refuses more than one without
// running any (PrepareContext would run all but the last), and returns
// the prepared statement's type.
func (q *DB) statementType(stmt string) (duckdb.StmtType, error) {
	var t duckdb.StmtType
	err := q.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("query: driver cannot prepare statements")
		}
		st, err := c.Prepare(stmt)
		if err != nil {
			if strings.Contains(err.Error(), "multi-statement") {
				return &refusal{fmt.Sprintf("%d statements", max(statementCount(stmt), 2))}
			}
			return err
		}
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return errors.Join(errors.New("query: unexpected statement type"), st.Close())
		}
		t, err = ds.StatementType()
		return errors.Join(err, st.Close())
	})
	return t, err
}

// describe words the refusal of a single statement that is not a SELECT:
// its first keyword, or for a PIVOT why, as DuckDB expands one without an
// IN list into several statements.
func describe(stmt string) string {
	switch k := firstKeyword(stmt); k {
	case "PIVOT":
		return "PIVOT without an IN list, which DuckDB runs as several statements (give the values: ON col IN (...))"
	case "", "SELECT", "WITH", "FROM", "VALUES", "TABLE", "DESCRIBE", "SUMMARIZE", "SHOW":
		return "statement other than SELECT"
	default:
		return k + " statement"
	}
}
