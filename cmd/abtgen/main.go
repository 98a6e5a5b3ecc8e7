// Command abtgen writes a large synthetic archive straight from
// distributions, without packets, for query benchmarks. It writes through
// the same archive writer as adu2parquet, so its files are exactly what
// adu2parquet writes. See root.go for the command line and gen.go for the
// model.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
