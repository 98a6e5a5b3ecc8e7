// Package queries holds the canned analyses of abtq as SQL files, embedded
// in the binary. Each file's first comment lines describe it. The time range
// is not theirs to apply: the views they read hold only the rows of the
// range (package query). Their parameters are bound, never spliced: per
// query $server (VARCHAR), $port (INTEGER), $direction (VARCHAR), $limit
// (INTEGER), ..., NULL meaning "no filter".
//
// archive/ holds what the canned queries read, as SQL any DuckDB client
// runs: macros.sql (the rollups' bins), views.sql (the views adus,
// connections, runs, response_times, vectors) and, for a client other than
// abtq, files.sql (the tables' files under a directory). abtq runs
// macros.sql and views.sql itself, over the files of its time range.
package queries

import (
	"embed"
	"fmt"
	"strings"
)

//go:embed *.sql archive/*.sql
var FS embed.FS

// Get returns the SQL of a canned query by name (the file name without
// .sql).
func Get(name string) (string, error) {
	b, err := FS.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("no canned query %q", name)
	}
	return string(b), nil
}

// Description returns the first comment line of a query.
func Description(name string) string {
	s, err := Get(name)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "--"))
}

// Statements returns the statements of archive/<name>.sql, without their
// terminators: each ends with a semicolon at the end of a line, and a
// statement of comments only is left out.
func Statements(name string) ([]string, error) {
	b, err := FS.ReadFile("archive/" + name + ".sql")
	if err != nil {
		return nil, fmt.Errorf("no archive SQL %q", name)
	}
	return split(name, string(b))
}

// split splits the text of archive SQL file name into its statements.
func split(name, text string) ([]string, error) {
	var out []string
	var cur []string
	code := false
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "--") {
			code = true
		}
		if end, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), ";"); ok && code {
			out = append(out, strings.TrimSpace(strings.Join(append(cur, end), "\n")))
			cur, code = nil, false
			continue
		}
		cur = append(cur, line)
	}
	if code {
		return nil, fmt.Errorf("archive SQL %q: a statement without its semicolon at the end", name)
	}
	return out, nil
}

// MustStatements is Statements, for the files embedded here (their tests
// read each).
func MustStatements(name string) []string {
	s, err := Statements(name)
	if err != nil {
		panic(err)
	}
	return s
}
