// Package queries holds the canned analyses of abtq as SQL files, embedded
// in the binary. Each file's first comment lines describe it. The time range
// is not theirs to apply: the views they read hold only the rows of the
// range (package query). Their parameters are bound, never spliced: per
// query $server (VARCHAR), $port (INTEGER), $direction (VARCHAR), $limit
// (INTEGER), ..., NULL meaning "no filter".
package queries

import (
	"embed"
	"fmt"
	"strings"
)

//go:embed *.sql
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
