//go:build failpoints

package failpoint

import (
	"os"
	"slices"
	"strings"
	"syscall"
)

// armed are the points named in ABT_FAILPOINTS.
var armed = strings.Split(os.Getenv(EnvVar), ",")

// Enabled reports whether this build has failpoints.
const Enabled = true

// Inject kills the process with SIGKILL (no deferred function, no flush:
// what a power cut leaves) when name is in ABT_FAILPOINTS.
func Inject(name string) {
	if slices.Contains(armed, name) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
