package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/failpoint"
	"github.com/abt-dev/abt/internal/query"
	"github.com/abt-dev/abt/schema"
)

// These tests are the archive's fault matrix (docs/reliability.md): runs
// racing on one input, interrupted runs, replacements killed at every
// step, and readers querying while compactions and replacements run.

// view is what a reader (abtq, through package query) sees of an archive.
type view struct {
	adus, conns, runs int64
	size              int64 // adus.size summed
	aduRuns           int64 // distinct run_id in adus
}

// readView queries the archive as abtq does.
func readView(ctx context.Context, out string) (view, error) {
	var v view
	db, err := query.Open(ctx, out, query.Range{}, query.Options{Threads: 1})
	if err != nil {
		return v, err
	}
	defer db.Close()
	parts := []string{"0", "0", "0", "0", "0"}
	if db.Has(schema.TableADUs) {
		parts[0], parts[1], parts[4] = "(SELECT count(*) FROM adus)", "(SELECT coalesce(sum(size), 0) FROM adus)", "(SELECT count(DISTINCT run_id) FROM adus)"
	}
	if db.Has(schema.TableConnections) {
		parts[2] = "(SELECT count(*) FROM connections)"
	}
	if db.Has(schema.TableRuns) {
		parts[3] = "(SELECT count(*) FROM runs)"
	}
	rows, err := db.Query(ctx, "SELECT "+strings.Join(parts, ", "))
	if err != nil {
		return v, err
	}
	defer rows.Close()
	if !rows.Next() {
		return v, errors.Join(errors.New("no row"), rows.Err())
	}
	err = rows.Scan(&v.adus, &v.size, &v.conns, &v.runs, &v.aduRuns)
	return v, err
}

func mustView(t *testing.T, out string) view {
	t.Helper()
	v, err := readView(context.Background(), out)
	require.NoError(t, err)
	return v
}

// failpointBinary returns the binary the failpoint tests run: the same
// program (package failpoint arms points from the environment).
func failpointBinary(t *testing.T) string { return adu2parquetBinary(t) }

// runBinary runs a binary to its end and returns its exit status (-1 when
// killed) and standard error.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	return exitCode(t, cmd), stderr.String()
}

// copyArchive copies an archive (cp -a keeps the read-only modes).
func copyArchive(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "archive")
	out, err := exec.Command("cp", "-a", from, to).CombinedOutput()
	require.NoError(t, err, string(out))
	return to
}

// requireSettled checks what every run leaves once the archive is at rest:
// no temporary, spill or staging file, no journal, no replacement pending
// in the state, and no uncommitted part.
func requireSettled(t *testing.T, out string) {
	t.Helper()
	require.Empty(t, leftovers(t, out))
	journals, _ := filepath.Glob(filepath.Join(out, catalog.MetaDir, "runs", "*.json"))
	require.Empty(t, journals)
	st, err := catalog.ReadState(out)
	require.NoError(t, err)
	require.Empty(t, st.Replacements)
	require.NoError(t, filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		require.False(t, strings.HasSuffix(d.Name(), ".uncommitted"), "uncommitted part left: %s", path)
		return nil
	}))
}

// TestRacingRuns starts two runs of one input at the same instant, again
// and again: exactly one archives it, the other is refused, and readers see
// the input once.
func TestRacingRuns(t *testing.T) {
	bin := adu2parquetBinary(t)
	input := capturePath("mercury_emix.pcap")
	clean := filepath.Join(t.TempDir(), "clean")
	code, stderr := runBinary(t, bin, nil, "-q", "--out", clean, "--sensor", testSensor, input)
	require.Equal(t, 0, code, stderr)
	want := mustView(t, clean)
	for round := range 12 {
		out := filepath.Join(t.TempDir(), "archive")
		var cmds []*exec.Cmd
		var errs []*strings.Builder
		for range 2 {
			cmd := exec.Command(bin, "-q", "--out", out, "--sensor", testSensor, input)
			var b strings.Builder
			cmd.Stderr = &b
			cmds, errs = append(cmds, cmd), append(errs, &b)
		}
		for _, c := range cmds {
			require.NoError(t, c.Start())
		}
		var ok, refused int
		for i, c := range cmds {
			switch exitCode(t, c) {
			case 0:
				ok++
			case 1:
				refused++
				msg := errs[i].String()
				require.True(t, strings.Contains(msg, "being archived by run") || strings.Contains(msg, "already archived"), msg)
			default:
				t.Fatalf("round %d: %s", round, errs[i].String())
			}
		}
		require.Equal(t, 1, ok, "round %d: one run archives the input", round)
		require.Equal(t, 1, refused, "round %d", round)
		require.Equal(t, want, mustView(t, out), "round %d", round)
		requireSettled(t, out)
	}
}

// TestInterruptedRerun interrupts a run (SIGINT and SIGTERM): it exits 130
// and records the run as interrupted; running the same input again without
// --replace replaces it, saying so, and the archive holds exactly a clean
// run's rows.
func TestInterruptedRerun(t *testing.T) {
	bin := adu2parquetBinary(t)
	input := benchInput(t)
	clean := filepath.Join(t.TempDir(), "clean")
	began := time.Now()
	code, stderr := runBinary(t, bin, nil, "-q", "--out", clean, "--sensor", testSensor, "--grace", "1s", input)
	require.Equal(t, 0, code, stderr)
	took := time.Since(began)
	want := readTables(t, clean)
	wantKeys := aduKeys(want.adus, runNames(want.runs))
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "archive")
			cmd := exec.Command(bin, "--out", out, "--sensor", testSensor, "--grace", "1s", input)
			var errb strings.Builder
			cmd.Stderr = &errb
			require.NoError(t, cmd.Start())
			time.Sleep(took * 3 / 10)
			require.NoError(t, cmd.Process.Signal(sig))
			code := exitCode(t, cmd)
			if code == 0 {
				t.Skip("the run ended before the signal")
			}
			require.Equal(t, 130, code, errb.String())
			got := readTables(t, out)
			require.Len(t, got.runs, 1)
			require.Equal(t, "interrupted", got.runs[0].Status)
			require.Less(t, len(got.adus), len(want.adus))

			code, stderr := runBinary(t, bin, nil, "--out", out, "--sensor", testSensor, "--grace", "1s", input)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stderr, "which was interrupted: replacing it")
			got = readTables(t, out)
			require.Len(t, got.runs, 1)
			require.Equal(t, "complete", got.runs[0].Status)
			require.Equal(t, wantKeys, aduKeys(got.adus, runNames(got.runs)))
			require.Len(t, got.conns, len(want.conns))
			requireSettled(t, out)
		})
	}
}

// binArchive archives with the built binary (faster than the race-enabled
// test binary for setting archives up).
func binArchive(t *testing.T, out string, args ...string) {
	t.Helper()
	code, stderr := runBinary(t, adu2parquetBinary(t), nil, append([]string{"-q", "--out", out, "--sensor", testSensor}, args...)...)
	require.Equal(t, 0, code, stderr)
}

// replaceSetup archives two inputs (the one replaced, and another that
// shares none of its rows) and returns the archive and what readers see.
func replaceSetup(t *testing.T, input string) (string, view) {
	t.Helper()
	base := filepath.Join(t.TempDir(), "base")
	binArchive(t, base, "--grace", "1s", input)
	binArchive(t, base, capturePath("trex_Oracle.pcap"))
	want := mustView(t, base)
	require.Equal(t, int64(2), want.runs)
	require.Equal(t, int64(2), want.aduRuns)
	return base, want
}

// compactSetup archives two captures whose rows share an hour, each with a
// late part there (lateCapture), and the many hours of mercury_emix: hours
// with several parts to compact. It returns the archive, what readers see,
// and the inputs.
func compactSetup(t *testing.T) (string, view, []string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "archive")
	in1, in2 := filepath.Join(dir, "one.pcap"), filepath.Join(dir, "two.pcap")
	lateCapture(t, in1, 1)
	lateCapture(t, in2, 2)
	mercury := capturePath("mercury_emix.pcap")
	for _, in := range []string{in1, in2, mercury} {
		binArchive(t, out, "--grace", "1ms", in)
	}
	want := mustView(t, out)
	require.Equal(t, int64(3), want.runs)
	return out, want, []string{in1, in2, mercury}
}

// TestReplaceKilled kills a --replace at every step of it (failpoints) and
// at moments of its run: readers then see the replaced run or its
// replacement, never neither and never both, and the next --replace brings
// the archive to rest with the same rows.
func TestReplaceKilled(t *testing.T) {
	input := capturePath("mercury_emix.pcap")
	base, want := replaceSetup(t, input)
	bin, fp := adu2parquetBinary(t), failpointBinary(t)
	replaceArgs := func(out, input string) []string {
		return []string{"-q", "--out", out, "--sensor", testSensor, "--grace", "1s", "--replace", input}
	}
	points := []string{"open-after-journal", "publish-after-link", "close-before-runs-row", "commit-before-state",
		"commit-after-state", "edit-before-swap", "edit-after-swap", "replace-after-hour"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			out := copyArchive(t, base)
			args := replaceArgs(out, input)
			code, stderr := runBinary(t, fp, []string{failpoint.EnvVar + "=" + point}, args...)
			require.Equal(t, -1, code, "killed at %s: %s", point, stderr)
			require.Equal(t, want, mustView(t, out), "readers after a kill at %s", point)
			requireReadable(t, out)

			code, stderr = runBinary(t, bin, nil, args...)
			require.Equal(t, 0, code, stderr)
			require.Equal(t, want, mustView(t, out))
			requireSettled(t, out)
		})
	}
	// Kills at moments of a longer replacement.
	big := benchInput(t)
	bigBase, bigWant := replaceSetup(t, big)
	began := time.Now()
	code, stderr := runBinary(t, bin, nil, replaceArgs(copyArchive(t, bigBase), big)...)
	require.Equal(t, 0, code, stderr)
	took := time.Since(began)
	for _, pct := range []int{20, 50, 80, 95} {
		t.Run(fmt.Sprintf("kill at %d%%", pct), func(t *testing.T) {
			t.Parallel() // slower runs only move the kill earlier
			out := copyArchive(t, bigBase)
			args := replaceArgs(out, big)
			want := bigWant
			cmd := exec.Command(bin, args...)
			require.NoError(t, cmd.Start())
			time.Sleep(took * time.Duration(pct) / 100)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			require.Equal(t, want, mustView(t, out))
			code, stderr := runBinary(t, bin, nil, args...)
			require.Equal(t, 0, code, stderr)
			require.Equal(t, want, mustView(t, out))
			requireSettled(t, out)
		})
	}
}

// TestReadersDuringWrites queries the archive in a loop, as abtq does,
// while replacements and compactions run on it: no query fails, and every
// one sees the same rows.
func TestReadersDuringWrites(t *testing.T) {
	out, want, inputs := compactSetup(t)
	bin := adu2parquetBinary(t)

	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg      sync.WaitGroup
		queries atomic.Int64
		failed  atomic.Pointer[string]
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				got, err := readView(ctx, out)
				if ctx.Err() != nil {
					return
				}
				if err == nil && got != want {
					err = fmt.Errorf("saw %+v, want %+v", got, want)
				}
				if err != nil {
					msg := err.Error()
					failed.CompareAndSwap(nil, &msg)
					return
				}
				queries.Add(1)
			}
		}()
	}
	for i, in := range append(inputs, inputs[0]) {
		code, stderr := runBinary(t, bin, nil, "-q", "--out", out, "--sensor", testSensor, "--grace", "1ms", "--replace", in)
		require.Equal(t, 0, code, stderr)
		code, stderr = runBinary(t, bin, nil, "compact", "--out", out)
		require.Equal(t, 0, code, stderr)
		if in != inputs[2] { // mercury_emix shares no hour with the others
			require.NotContains(t, stderr, "compacted 0 hour(s)", "compaction %d has work", i)
		}
	}
	cancel()
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		t.Fatalf("a reader failed while the archive was written: %s", *msg)
	}
	t.Logf("%d queries during 4 replacements and 4 compactions", queries.Load())
	require.Positive(t, queries.Load())
	require.Equal(t, want, mustView(t, out))
	requireSettled(t, out)
}

// TestCompactKilled kills a compaction with its staging directory built:
// the next compaction removes it, and nothing else changed.
func TestCompactKilled(t *testing.T) {
	out, want, _ := compactSetup(t)
	fp := failpointBinary(t)
	code, stderr := runBinary(t, fp, []string{failpoint.EnvVar + "=edit-before-swap"}, "compact", "-q", "--out", out)
	require.Equal(t, -1, code, stderr)
	require.NotEmpty(t, leftovers(t, out), "the killed compaction's staging directory")
	require.Equal(t, want, mustView(t, out))
	code, stderr = runBinary(t, adu2parquetBinary(t), nil, "compact", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "removed leftover compaction")
	require.Equal(t, want, mustView(t, out))
	requireSettled(t, out)
}

// TestCompactReadOnly runs compact on an archive mounted read-only: it
// fails with one clear error before doing or printing anything else.
func TestCompactReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root")
	}
	out, want, _ := compactSetup(t)
	before := snapshot(t, out)
	script := fmt.Sprintf("mount --bind %[1]s %[1]s && mount -o remount,ro,bind %[1]s && exec %[2]s compact --out %[1]s", out, adu2parquetBinary(t))
	cmd := exec.Command("unshare", "-m", "sh", "-c", script)
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		if strings.Contains(errb.String(), "mount:") || strings.Contains(errb.String(), "unshare:") {
			t.Skipf("no read-only bind mount here: %s", errb.String())
		}
		t.Fatalf("compact on a read-only archive: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	require.Len(t, lines, 1, "one line: %s", errb.String())
	require.Contains(t, lines[0], "read-only file system")
	require.Equal(t, before, snapshot(t, out))
	require.Equal(t, want, mustView(t, out))
}

// TestVerify checks a sound archive and archives damaged in the ways an
// operator meets: verify finds each, names the file or run, and exits 1
// for problems; leftovers the next run removes are notes (exit 0).
func TestVerify(t *testing.T) {
	base, _, _ := compactSetup(t)
	code, stdout, stderr := runCmd(t, nil, "verify", "--out", base)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `verified .*: \d+ files, \d+ rows, 3 runs; 0 problem\(s\)\n$`, stdout)

	// aPart returns one adus part of the archive.
	aPart := func(t *testing.T, out string) string {
		parts, err := filepath.Glob(filepath.Join(out, "adus", "sensor="+testSensor, "date=*", "hour=*", "part-*-0001.parquet"))
		require.NoError(t, err)
		require.NotEmpty(t, parts)
		return parts[0]
	}
	tests := []struct {
		name    string
		damage  func(t *testing.T, out string) string // returns what the finding names
		problem bool
		want    string
	}{
		{"a part removed", func(t *testing.T, out string) string {
			p := aPart(t, out)
			require.NoError(t, os.Remove(p))
			return "run "
		}, true, "the runs table says"},
		{"a part copied as another part of its run", func(t *testing.T, out string) string {
			p := aPart(t, out)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(strings.Replace(p, "-0001.parquet", "-0099.parquet", 1), b, 0o444))
			return "run "
		}, true, "the runs table says"},
		{"a truncated part", func(t *testing.T, out string) string {
			p := aPart(t, out)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.WriteFile(p, b[:len(b)/2], 0o444))
			return p
		}, true, "no Parquet magic number"},
		{"a forged part", func(t *testing.T, out string) string {
			p := filepath.Join(filepath.Dir(aPart(t, out)), "part-forged-0001.parquet")
			db := openDuck(t)
			_, err := db.Exec("COPY (SELECT 1 AS x) TO '" + p + "' (FORMAT parquet)")
			require.NoError(t, err)
			return p
		}, true, "footer abt.table"},
		{"a stranger's file", func(t *testing.T, out string) string {
			p := filepath.Join(filepath.Dir(aPart(t, out)), "notes.txt")
			require.NoError(t, os.WriteFile(p, []byte("hi"), 0o644))
			return p
		}, true, "not a file adu2parquet writes"},
		{"a dead run's temporary file", func(t *testing.T, out string) string {
			p := filepath.Join(filepath.Dir(aPart(t, out)), ".part-gone-0001.parquet.tmp")
			require.NoError(t, os.WriteFile(p, []byte("half"), 0o644))
			return p
		}, false, "the next adu2parquet removes it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := copyArchive(t, base)
			names := tc.damage(t, out)
			code, stdout, stderr := runCmd(t, nil, "verify", "--out", out)
			kind := "note: "
			if tc.problem {
				kind = "problem: "
				require.Equal(t, 1, code, stdout)
				require.Contains(t, stderr, "the archive has problems")
			} else {
				require.Equal(t, 0, code, stdout+stderr)
			}
			var found bool
			for _, l := range strings.Split(stdout, "\n") {
				if strings.HasPrefix(l, kind+names) && strings.Contains(l, tc.want) {
					found = true
				}
			}
			require.True(t, found, "want a line %q…%q in:\n%s", kind+names, tc.want, stdout)
		})
	}
}

// TestStdinIdentity: a capture read from standard input is identified as
// it is read, the same way as the file holding it, so piping it twice (or
// piping a file archived by name) archives it once; a pipe interrupted
// before its end archives nothing.
func TestStdinIdentity(t *testing.T) {
	oracle := capturePath("trex_Oracle.pcap")
	data, err := os.ReadFile(oracle)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "archive")
	code, _, stderr := runCmd(t, data, "-q", "--out", out, "--sensor", testSensor, "-")
	require.Equal(t, 0, code, stderr)
	want := mustView(t, out)
	require.Equal(t, int64(1), want.runs)
	files := parquetFiles(t, out)

	code, _, stderr = runCmd(t, data, "-q", "--out", out, "--sensor", testSensor, "-")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "already archived")
	code, _, stderr = runCmd(t, nil, "-q", "--out", out, "--sensor", testSensor, oracle)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "already archived", "the file is the capture piped before")
	require.Equal(t, want, mustView(t, out))
	require.Equal(t, files, parquetFiles(t, out))
	requireSettled(t, out)

	code, _, stderr = runCmd(t, data, "-q", "--out", out, "--sensor", testSensor, "--replace", "-")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, mustView(t, out))
	requireSettled(t, out)

	// Interrupted half way through the pipe: nothing of it is archived.
	big, err := os.ReadFile(benchInput(t))
	require.NoError(t, err)
	cmd := exec.Command(adu2parquetBinary(t), "--out", out, "--sensor", testSensor, "--grace", "1s", "-")
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	var errb strings.Builder
	cmd.Stderr = &errb
	require.NoError(t, cmd.Start())
	_, err = in.Write(big[:len(big)/2])
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.Equal(t, 130, exitCode(t, cmd), errb.String())
	_ = in.Close()
	require.Contains(t, errb.String(), "nothing archived")
	require.Equal(t, want, mustView(t, out))
	requireSettled(t, out)
}
