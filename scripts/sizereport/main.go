// Command sizereport measures the archive's size per ADU and per
// connection for one capture, under several row orders, row-group sizes and
// zstd levels, against the same records as adudump text compressed with
// gzip -9 and zstd -19 and as JSON Lines (every field, adu2parquet --format
// jsonl) compressed with zstd -19. It prints a Markdown table, then the
// bytes of each column of the default archive's adus and connections
// tables, and last what storing less would save (residual.go): the
// measurements of docs/archive-size.md.
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
	"github.com/abt-dev/abt/internal/jsonl"
	"github.com/abt-dev/abt/internal/partition"
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
	var text, jl bytes.Buffer
	jw := jsonl.NewWriter(&jl)
	for i := range recs {
		if err := jw.Record(&recs[i]); err != nil {
			return err
		}
		switch recs[i].Kind {
		case ingest.KindADU, ingest.KindINC:
			adus++
		case ingest.KindEND:
			conns++
		}
		text.Write(adutext.AppendRecord(nil, &recs[i]))
	}
	if err := jw.Flush(); err != nil {
		return err
	}
	fmt.Printf("input: %s, %d packets, %d records, %d ADUs, %d connections\n\n", path, pkts, len(recs), adus, conns)
	gz, gzs, err := compress(text.Bytes(), "gzip", "-9", "-c")
	if err != nil {
		return err
	}
	zs, zss, err := compress(text.Bytes(), "zstd", "-19", "-q", "-c")
	if err != nil {
		return err
	}
	jz, jzs, err := compress(jl.Bytes(), "zstd", "-19", "-q", "-c")
	if err != nil {
		return err
	}
	fmt.Println("| form | bytes | bytes/ADU | bytes/connection | vs gzip -9 text | vs zstd -19 text | vs zstd -19 JSON Lines | write s |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	row := func(name string, n int64, secs float64) {
		ratio := func(ref int64) string { return fmt.Sprintf("%.2f", float64(n)/float64(ref)) }
		fmt.Printf("| %s | %d | %.1f | %.1f | %s | %s | %s | %.2f |\n", name, n, float64(n)/float64(adus), float64(n)/float64(conns),
			ratio(gz), ratio(zs), ratio(jz), secs)
	}
	row("adudump text, uncompressed", int64(text.Len()), 0)
	row("adudump text, gzip -9", gz, gzs)
	row("adudump text, zstd -19", zs, zss)
	row("JSON Lines, uncompressed", int64(jl.Len()), 0)
	row("JSON Lines, zstd -19", jz, jzs)

	byServer := []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("server_port"), parquet.Ascending("ts")}
	byTime := []parquet.SortingColumn{parquet.Ascending("ts")}
	byPair := []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("client_ip"), parquet.Ascending("ts")}
	byConn := []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("server_port"), parquet.Ascending("run_id"), parquet.Ascending("conn_id"), parquet.Ascending("ordinal")}
	var columns []columnBytes
	var alternatives strings.Builder
	for i, v := range []variant{
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
		var keep func(dir string) error
		if i == 0 {
			keep = func(dir string) error { return representations(&alternatives, dir, gz, zs) }
		}
		n, secs, cols, err := writeArchive(recs, v, keep)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		row(v.name, n, secs)
		if i == 0 {
			columns = cols
		}
	}
	fmt.Println()
	fmt.Println("Columns of the first archive above (compressed bytes, all row groups and files):")
	fmt.Println()
	fmt.Println("| table | column | bytes | bytes/row | share of the table |")
	fmt.Println("|---|---|---:|---:|---:|")
	tables := map[string]int64{}
	for _, c := range columns {
		tables[c.table] += c.bytes
	}
	for _, c := range columns {
		perRow := float64(c.bytes) / float64(adus)
		if c.table == "connections" {
			perRow = float64(c.bytes) / float64(conns)
		}
		fmt.Printf("| %s | %s | %d | %.2f | %.1f %% |\n", c.table, c.column, c.bytes, perRow, 100*float64(c.bytes)/float64(tables[c.table]))
	}
	fmt.Print(alternatives.String())
	return nil
}

// columnBytes is a column's compressed bytes in a table's files.
type columnBytes struct {
	table, column string
	bytes         int64
}

// columnSizes adds up, per column, the compressed bytes of the column
// chunks of the Parquet file at path (its footer), into sizes in the order
// first seen.
func columnSizes(path, table string, sizes []columnBytes) ([]columnBytes, error) {
	pf, f, err := partition.OpenParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			name := strings.Join(c.MetaData.PathInSchema, ".")
			i := 0
			for i < len(sizes) && (sizes[i].table != table || sizes[i].column != name) {
				i++
			}
			if i == len(sizes) {
				sizes = append(sizes, columnBytes{table: table, column: name})
			}
			sizes[i].bytes += c.MetaData.TotalCompressedSize
		}
	}
	return sizes, nil
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

// writeArchive archives recs under v and returns the bytes of the adus and
// connections files, the seconds it took, and the bytes of each column.
func writeArchive(recs []ingest.Record, v variant, then func(dir string) error) (int64, float64, []columnBytes, error) {
	dir, err := os.MkdirTemp("", "sizereport-")
	if err != nil {
		return 0, 0, nil, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	a, err := archive.Open(archive.Options{Root: dir, Sensor: "s", RunID: "r", Sorting: v.sorting,
		RowGroupRows: v.rgRows, ZstdLevel: v.zstd, PageBytes: v.page, Grace: 24 * time.Hour}, nil)
	if err != nil {
		return 0, 0, nil, err
	}
	for i := range recs {
		if err := a.Record(&recs[i]); err != nil {
			return 0, 0, nil, err
		}
	}
	if _, err := a.Close(archive.RunInfo{Status: "complete", FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime}); err != nil {
		return 0, 0, nil, err
	}
	secs := time.Since(start).Seconds()
	var total int64
	var cols []columnBytes
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
			rel, _ := filepath.Rel(dir, p)
			table, _, _ := strings.Cut(rel, string(filepath.Separator))
			if cols, err = columnSizes(p, table, cols); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil && then != nil {
		err = then(dir)
	}
	return total, secs, cols, err
}
