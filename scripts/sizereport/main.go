// Command sizereport measures the archive's size per ADU and per
// connection for one capture, under several row orders, row-group sizes and
// zstd levels, against the same records as adudump text compressed with
// gzip -9 and zstd -19. It prints a Markdown table (docs/archive-size.md).
//
//	go run ./scripts/sizereport bench/big.pcap
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

type variant struct {
	name    string
	sorting []parquet.SortingColumn
	rgRows  int64
	zstd    int
	page    int
}

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sizereport CAPTURE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "sizereport:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	recs, pkts, err := infer(path)
	if err != nil {
		return err
	}
	var adus, conns int64
	var text bytes.Buffer
	for i := range recs {
		switch recs[i].Kind {
		case ingest.KindADU, ingest.KindINC:
			adus++
		case ingest.KindEND:
			conns++
		}
		text.Write(adutext.AppendRecord(nil, &recs[i]))
	}
	fmt.Printf("input: %s, %d packets, %d records, %d ADUs, %d connections\n\n", path, pkts, len(recs), adus, conns)
	fmt.Println("| form | bytes | bytes/ADU | bytes/connection | vs gzip -9 text | write s |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	row := func(name string, n int64, secs float64, gz int64) {
		ratio := "—"
		if gz > 0 {
			ratio = fmt.Sprintf("%.2f", float64(n)/float64(gz))
		}
		fmt.Printf("| %s | %d | %.1f | %.1f | %s | %.2f |\n", name, n, float64(n)/float64(adus), float64(n)/float64(conns), ratio, secs)
	}
	row("adudump text, uncompressed", int64(text.Len()), 0, 0)
	gz, gzs, err := compress(text.Bytes(), "gzip", "-9", "-c")
	if err != nil {
		return err
	}
	row("adudump text, gzip -9", gz, gzs, gz)
	zs, zss, err := compress(text.Bytes(), "zstd", "-19", "-q", "-c")
	if err != nil {
		return err
	}
	row("adudump text, zstd -19", zs, zss, gz)

	byServer := []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("server_port"), parquet.Ascending("ts")}
	byTime := []parquet.SortingColumn{parquet.Ascending("ts")}
	byPair := []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("client_ip"), parquet.Ascending("ts")}
	byConn := []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("server_port"), parquet.Ascending("run_id"), parquet.Ascending("conn_id"), parquet.Ascending("ordinal")}
	for _, v := range []variant{
		{"Parquet: the archive's order (server, port, connection, ordinal), pages, zstd 3; 1 Mi-row groups (the archive: 256 Ki)", byConn, 1 << 20, 3, 1 << 20},
		{"  order: ts only", byTime, 1 << 20, 3, 1 << 20},
		{"  order: server, port, ts", byServer, 1 << 20, 3, 1 << 20},
		{"  order: server, client, ts", byPair, 1 << 20, 3, 1 << 20},
		{"  row groups: 64 Ki rows", byConn, 64 << 10, 3, 1 << 20},
		{"  row groups: 256 Ki rows", byConn, 256 << 10, 3, 1 << 20},
		{"  pages: 256 KiB (parquet-go default)", byConn, 1 << 20, 3, 256 << 10},
		{"  pages: 16 MiB", byConn, 1 << 20, 3, 16 << 20},
		{"  zstd 1", byConn, 1 << 20, 1, 1 << 20},
		{"  zstd 4", byConn, 1 << 20, 4, 1 << 20},
	} {
		n, secs, err := writeArchive(recs, v)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		row(v.name, n, secs, gz)
	}
	return nil
}

func infer(path string) ([]ingest.Record, uint64, error) {
	src, err := capture.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	var recs []ingest.Record
	e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(r *ingest.Record) error {
		recs = append(recs, *r)
		return nil
	}))
	if err != nil {
		return nil, 0, err
	}
	var dec decode.Decoder
	if err := e.Feed(context.Background(), src, &dec, nil); err != nil {
		return nil, 0, err
	}
	return recs, dec.Stats.Packets, e.Finish()
}

func compress(b []byte, tool string, args ...string) (int64, float64, error) {
	start := time.Now()
	cmd := exec.Command(tool, args...)
	cmd.Stdin = bytes.NewReader(b)
	var out countWriter
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", tool, err)
	}
	return out.n, time.Since(start).Seconds(), nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func writeArchive(recs []ingest.Record, v variant) (int64, float64, error) {
	dir, err := os.MkdirTemp("", "sizereport-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	a, err := archive.Open(archive.Options{Root: dir, Sensor: "s", RunID: "r", Sorting: v.sorting,
		RowGroupRows: v.rgRows, ZstdLevel: v.zstd, PageBytes: v.page, Grace: 24 * time.Hour}, nil)
	if err != nil {
		return 0, 0, err
	}
	for i := range recs {
		if err := a.Record(&recs[i]); err != nil {
			return 0, 0, err
		}
	}
	if _, err := a.Close(archive.RunInfo{Status: "complete", FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime}); err != nil {
		return 0, 0, err
	}
	secs := time.Since(start).Seconds()
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, "/runs/") {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return total, secs, err
}
