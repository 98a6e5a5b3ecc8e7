package live

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/abt-dev/abt/internal/capture"
)

// Matching counts the Ethernet frames expr keeps, in x/net/bpf's machine.
func Matching(t *testing.T, expr string, frames [][]byte) int {
	t.Helper()
	prog, err := compileFilter(expr, capture.LinkEthernet, 192)
	require.NoError(t, err)
	vm, err := bpf.NewVM(prog)
	require.NoError(t, err)
	n := 0
	for _, f := range frames {
		if v, err := vm.Run(f); err == nil && v > 0 {
			n++
		}
	}
	return n
}

// CaptureFrames is a bundled capture's frames.
var CaptureFrames = captureFrames
