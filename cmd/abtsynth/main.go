// Command abtsynth validates the inference against ground truth: synthetic
// client and server applications that log what they did, a forwarder that
// drops and delays frames between two interfaces, and the comparison of a
// capture's inferred a-b-t vectors with the logs. scripts/validate.sh runs
// them in network namespaces; see docs/validation.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
