// Command abtq queries an abt archive with SQL through an embedded DuckDB:
// canned analyses and ad-hoc SQL. See root.go for the command line.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
