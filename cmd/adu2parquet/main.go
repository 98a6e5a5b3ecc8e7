// Command adu2parquet infers a-b-t connection vectors from TCP/IP packet
// headers. See root.go for the command line.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
