package archive_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/ingest"
)

// TestAsyncSameArchive: an archive written through Async, the archive's
// work on a goroutine of its own, is the archive written directly, byte
// for byte, file for file: on a capture whose hours are published during
// the run and on one with a thousand exchanges (many batches).
func TestAsyncSameArchive(t *testing.T) {
	for _, tc := range []struct {
		capture string
		grace   time.Duration
	}{
		{"mercury_emix.pcap", time.Millisecond},
		{"zeek_http_1000-requests-one-dropped-response.pcap.gz", 0},
		{"zeek_ssh.pcap", time.Millisecond},
	} {
		t.Run(tc.capture, func(t *testing.T) {
			path := filepath.Join(pcapDir, tc.capture)
			direct := filepath.Join(t.TempDir(), "archive")
			want := archiveCapture(t, direct, path, ingest.DefaultOptions(), tc.grace)

			async := filepath.Join(t.TempDir(), "archive")
			a, err := openRun(t, async, testRun, path, tc.grace, false)
			require.NoError(t, err)
			w := archive.NewAsync(a)
			got := feedCapture(t, w, path, ingest.DefaultOptions())
			got.sum, err = w.Close(got.info)
			require.NoError(t, err)

			require.Equal(t, want.sum, got.sum)
			require.Positive(t, got.sum.ADUs)
			require.Equal(t, archiveFiles(t, direct), archiveFiles(t, async))

			// The same records with no Advance at all: Close alone must
			// deliver the last, partial batch.
			noAdvance := func(w interface {
				Record(*ingest.Record) error
				Close(archive.RunInfo) (archive.Summary, error)
			}) archive.Summary {
				for i := range want.recs {
					require.NoError(t, w.Record(&want.recs[i]))
				}
				sum, err := w.Close(want.info)
				require.NoError(t, err)
				return sum
			}
			direct2, async2 := filepath.Join(t.TempDir(), "archive"), filepath.Join(t.TempDir(), "archive")
			a, err = openRun(t, direct2, testRun, path, tc.grace, false)
			require.NoError(t, err)
			sum := noAdvance(a)
			a, err = openRun(t, async2, testRun, path, tc.grace, false)
			require.NoError(t, err)
			require.Equal(t, sum, noAdvance(archive.NewAsync(a)))
			require.Equal(t, want.sum.ADUs, sum.ADUs)
			require.Equal(t, archiveFiles(t, direct2), archiveFiles(t, async2))
		})
	}
}

// archiveFiles returns the contents of the archive's Parquet files by
// their path under root.
func archiveFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".parquet" {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[rel] = string(b)
		return err
	}))
	return files
}
