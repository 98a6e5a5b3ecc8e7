package live

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const procNetDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   61238     195    0    0    0     0          0         0    61238     195    0    0    0     0       0          0
  eth1: 9876543  123456    2   17    0     0          0        12      100       1    0    5    0     0       0          0
  tap0:1234567890 999999  0  4000    0     0          0         0        0       0    0    0    0     0       0          0
`

// TestRxDrops reads the receive drop column of the interfaces named, not
// the transmit one, and says which are missing.
func TestRxDrops(t *testing.T) {
	d, err := rxDrops(procNetDev, []string{"eth1"})
	require.NoError(t, err)
	require.Equal(t, uint64(17), d)
	d, err = rxDrops(procNetDev, []string{"eth1", "tap0"})
	require.NoError(t, err)
	require.Equal(t, uint64(4017), d, "a name run into its counters (tap0:1234567890)")
	_, err = rxDrops(procNetDev, []string{"eth1", "eth9"})
	require.EqualError(t, err, "/proc/net/dev: 1 of the interfaces eth1, eth9 found")
}
