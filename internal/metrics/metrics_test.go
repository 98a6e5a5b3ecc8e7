package metrics_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/metrics"
)

func scrape(t *testing.T, s *metrics.Server) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if name, val, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "abt_") {
			v, err := strconv.ParseFloat(val, 64)
			require.NoError(t, err, line)
			out[name] = v
		}
	}
	return out
}

// TestServe: the endpoint reports what the run stored, the files
// published as the run's function says, the time since that number last
// grew, and the archive's free disk; Close stops it.
func TestServe(t *testing.T) {
	var files atomic.Int64
	s := &metrics.Sensor{Root: t.TempDir(), Published: func() (int64, int64) { return files.Load(), 10 * files.Load() }}
	srv, err := metrics.Serve("127.0.0.1:0", s)
	require.NoError(t, err)
	s.Packets.Store(1234)
	s.Drops.Store(5)
	s.Conns.Store(7)
	s.ADUs.Store(99)
	got := scrape(t, srv)
	for name, want := range map[string]float64{"abt_packets_total": 1234, "abt_drops_total": 5, "abt_connections": 7,
		"abt_adus_total": 99, "abt_files_published_total": 0} {
		require.Equal(t, want, got[name], name)
	}
	require.Positive(t, got["abt_disk_free_bytes"])
	time.Sleep(50 * time.Millisecond)
	before := scrape(t, srv)["abt_seconds_since_publish"]
	require.GreaterOrEqual(t, before, 0.05)
	files.Store(2)
	got = scrape(t, srv)
	require.Equal(t, 2.0, got["abt_files_published_total"])
	require.Less(t, got["abt_seconds_since_publish"], before, "a publication resets it")
	require.NoError(t, srv.Close())
	_, err = http.Get("http://" + srv.Addr().String() + "/metrics")
	require.Error(t, err, "closed")
}

// TestServeBadAddress: an address that cannot be listened on is an error
// naming the endpoint.
func TestServeBadAddress(t *testing.T) {
	_, err := metrics.Serve("256.0.0.1:80", &metrics.Sensor{})
	require.ErrorContains(t, err, "metrics endpoint: ")
}
