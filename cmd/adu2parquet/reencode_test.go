package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/partition"
)

// legacyFiles lists the parts of the archive at root written with version
// 2 pages or DELTA encodings.
func legacyFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, rel := range parquetFiles(t, root) {
		if strings.HasPrefix(rel, "rollups") {
			continue
		}
		legacy, err := partition.LegacyEncodings(filepath.Join(root, rel))
		require.NoError(t, err)
		if legacy {
			out = append(out, rel)
		}
	}
	return out
}

// TestCompactReencode compacts a copy of the committed archive, written
// before the archive's encodings changed: plain compaction leaves its
// single-part hours as they are; --reencode rewrites every one, after
// which no part has version 2 pages or a DELTA encoding, every table holds
// the same rows, and verify passes.
func TestCompactReencode(t *testing.T) {
	out := copyCommitted(t)
	before := readTables(t, out)
	legacy := legacyFiles(t, out)
	require.NotEmpty(t, legacy, "the committed archive predates the change")

	code, _, stderr := runCmd(t, nil, "compact", "--out", out, "--rollup=false")
	require.Equal(t, 0, code, stderr)
	require.NotEmpty(t, legacyFiles(t, out), "without --reencode, single-part hours stay as they are")

	code, _, stderr = runCmd(t, nil, "compact", "--out", out, "--rollup=false", "--reencode")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "rewritten with today's encodings")
	require.Empty(t, legacyFiles(t, out))
	requireRewrittenSame(t, out, before)
	t.Logf("%d legacy parts rewritten", len(legacy))
}
