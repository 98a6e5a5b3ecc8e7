//go:build ignore

// mkarchive builds queries/testdata/archive, the small committed archive the
// canned queries are tested against, from three bundled captures, with a
// fixed sensor and run id so that it is reproducible:
//
//	go run queries/testdata/mkarchive.go
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/schema"
)

func main() {
	if err := build(); err != nil {
		fmt.Fprintln(os.Stderr, "mkarchive:", err)
		os.Exit(1)
	}
}

func build() error {
	const out = "queries/testdata/archive"
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	inputs := []string{
		"testdata/pcaps/zeek_http_bro.org.pcap",
		"testdata/pcaps/zeek_smtp.pcap",
		"testdata/pcaps/pcapplusplus_example.pcap",
	}
	for i, in := range inputs {
		fp, err := archive.Fingerprint(in)
		if err != nil {
			return err
		}
		fixed := time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)
		a, err := archive.Open(archive.Options{Root: out, Sensor: "golden", RunID: fmt.Sprintf("run%d", i+1),
			Producer: "abt test", Now: func() time.Time { return fixed }}, []archive.Input{{Name: in, Fingerprint: fp}})
		if err != nil {
			return err
		}
		eng, err := ingest.New(ingest.DefaultOptions(), a)
		if err != nil {
			return err
		}
		src, err := capture.Open(in)
		if err != nil {
			return err
		}
		var dec decode.Decoder
		if err := eng.Feed(context.Background(), src, &dec, nil); err != nil {
			return err
		}
		if err := eng.Finish(); err != nil {
			return err
		}
		first, _ := eng.First()
		last, _ := eng.Now()
		st := eng.Stats()
		var recs []schema.Counter
		for k := ingest.KindSYN; k <= ingest.KindPART; k++ {
			if n := st.Records[k]; n > 0 {
				recs = append(recs, schema.Counter{Name: k.String(), Value: int64(n)})
			}
		}
		if _, err := a.Close(archive.RunInfo{Status: "complete", FirstPacket: first, LastPacket: last,
			Inputs:  []schema.Input{{Name: in, Fingerprint: fp, Format: "pcap", Packets: int64(dec.Stats.Packets)}},
			Packets: int64(dec.Stats.Packets), TCPSegments: int64(dec.Stats.Segments), Records: recs,
			Options: ingest.DefaultOptions()}); err != nil {
			return err
		}
		src.Close()
	}
	// The daily rollups, so that the tests exercise them (and, after
	// removing them, the fallback to the ADU rows).
	b, err := rollup.NewBuilder(context.Background(), out, 1)
	if err != nil {
		return err
	}
	if _, err := b.Update(context.Background(), rollup.UpdateOptions{}); err != nil {
		return errors.Join(err, b.Close())
	}
	if err := b.Close(); err != nil {
		return err
	}
	locks, _ := filepath.Glob(out + "/*/*/*/.hour=*.lock")
	for _, l := range locks {
		if err := os.Remove(l); err != nil {
			return err
		}
	}
	return os.RemoveAll(out + "/_abt")
}
