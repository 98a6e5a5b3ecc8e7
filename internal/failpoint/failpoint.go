package failpoint

import (
	"os"
	"slices"
	"strings"
	"syscall"
)

// armed are the points named in the environment at start-up; nil in
// normal use, which makes Inject a nil-slice check.
var armed = parse(os.Getenv(EnvVar))

func parse(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Inject kills the process with SIGKILL (no deferred function, no flush:
// what a power cut leaves) when name is armed.
func Inject(name string) {
	if armed != nil && slices.Contains(armed, name) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
