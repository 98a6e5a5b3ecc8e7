// Command abtsynth validates the inference against ground truth: synthetic
// client and server applications that log what they did, a forwarder that
// drops and delays frames between two interfaces, and the comparison of a
// capture's inferred a-b-t vectors with the logs. scripts/validate.sh runs
// them in network namespaces; see docs/validation.md.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
