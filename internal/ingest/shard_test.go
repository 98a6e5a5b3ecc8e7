package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/synthcap"
)

// inferrer is what Engine and Sharded have in common for these tests.
type inferrer interface {
	Feed(ctx context.Context, src capture.Source, dec *decode.Decoder, progress ingest.FeedProgress) error
	Finish() error
	Stats() ingest.Stats
}

// inferAll runs the captures, in order, through one engine (workers 1) or
// a Sharded of n workers, and returns every record written (END records
// with their summaries copied).
func inferAll(t *testing.T, opts ingest.Options, workers int, paths ...string) ([]ingest.Record, ingest.Stats) {
	t.Helper()
	var recs []ingest.Record
	sink := ingest.SinkFunc(func(r *ingest.Record) error {
		c := *r
		if r.Conn != nil {
			s := *r.Conn
			c.Conn = &s
		}
		recs = append(recs, c)
		return nil
	})
	var inf inferrer
	if workers == 1 {
		e, err := ingest.New(opts, sink)
		if err != nil {
			t.Fatal(err)
		}
		inf = e
	} else {
		s, err := ingest.NewSharded(opts, workers, sink)
		if err != nil {
			t.Fatal(err)
		}
		inf = s
	}
	var dec decode.Decoder
	for _, p := range paths {
		src, err := capture.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := inf.Feed(context.Background(), src, &dec, nil); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		src.Close()
	}
	if err := inf.Finish(); err != nil {
		t.Fatal(err)
	}
	return recs, inf.Stats()
}

// sameRecords reports the first difference between two record streams.
func sameRecords(a, b []ingest.Record) error {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Errorf("record %d differs:\n  one engine: %+v\n  workers:    %+v", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d records from one engine, %d from the workers", len(a), len(b))
	}
	return nil
}

// TestShardedSameRecords runs every bundled capture, each alone and all of
// them as one run (years apart and out of order between files), and a
// campus-like capture, through one engine and through 2, 3 and 4 workers:
// the records must be the same, in the same order, with the same counters
// apart from the peaks (a sum over workers).
func TestShardedSameRecords(t *testing.T) {
	captures, err := filepath.Glob("../../testdata/pcaps/*")
	if err != nil || len(captures) < 40 {
		t.Fatalf("bundled captures: %v (%d)", err, len(captures))
	}
	campus := filepath.Join(t.TempDir(), "campus.pcap")
	spec := synthcap.DefaultCampus()
	spec.Web, spec.Plain, spec.Mail = 1200, 300, 100
	var buf bytes.Buffer
	if err := spec.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(campus, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := [][]string{captures, {campus}}
	for _, c := range captures {
		runs = append(runs, []string{c})
	}
	opts := ingest.DefaultOptions()
	opts.TrackPartial = true
	total := 0
	for _, paths := range runs {
		name := filepath.Base(paths[0])
		if len(paths) > 1 {
			name = "all bundled captures"
		}
		want, ws := inferAll(t, opts, 1, paths...)
		total += len(want)
		for _, n := range []int{2, 3, 4} {
			got, gs := inferAll(t, opts, n, paths...)
			if err := sameRecords(want, got); err != nil {
				t.Fatalf("%s, %d workers: %v", name, n, err)
			}
			ws.PeakConns, gs.PeakConns, ws.PeakMemory, gs.PeakMemory = 0, 0, 0, 0
			if ws != gs {
				t.Errorf("%s, %d workers: counters differ:\n  one engine: %+v\n  workers:    %+v", name, n, ws, gs)
			}
		}
	}
	if total < 100000 {
		t.Errorf("only %d records compared", total)
	}
	t.Logf("%d records compared", total)
}
