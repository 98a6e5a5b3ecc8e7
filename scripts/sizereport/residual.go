package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// The representations below are not the archive's: they measure what
// storing less would save (issue 12's size floors, docs/archive-size.md,
// "What the size floors would cost"). Each is written by one plain
// parquet-go writer with the archive's settings (zstd level 3, 1 MiB pages,
// version 1 pages, PLAIN), beside the archive's own rows written by the same
// writer, so that the differences are the representation's alone.

// residualADU is an adus row whose start is not stored: it follows from
// the row before it in the file, of the same connection, as that row's
// start plus its duration and think time, plus GapUs. The first row of a
// connection in a file stores its start in AnchorTs instead (GapUs 0).
type residualADU struct {
	AnchorTs     *int64 `parquet:"anchor_ts,optional,timestamp(microsecond:local)"`
	GapUs        int64  `parquet:"gap_us"`
	ServerIP     string `parquet:"server_ip,dict"`
	ServerPort   int32  `parquet:"server_port"`
	ClientIP     string `parquet:"client_ip,dict"`
	ClientPort   int32  `parquet:"client_port"`
	RunID        string `parquet:"run_id,dict"`
	ConnID       int64  `parquet:"conn_id"`
	Ordinal      int32  `parquet:"ordinal"`
	Direction    string `parquet:"direction,dict"`
	Size         int64  `parquet:"size"`
	DurationUs   *int64 `parquet:"duration_us,optional"`
	ThinkUs      *int64 `parquet:"think_us,optional"`
	DecidedLagUs int64  `parquet:"decided_lag_us"`
	Concurrent   bool   `parquet:"concurrent"`
	Complete     bool   `parquet:"complete"`
	ThinkToPeer  bool   `parquet:"think_to_peer"`
}

func toResidual(rows []schema.ADU) []residualADU {
	out := make([]residualADU, len(rows))
	for i, a := range rows {
		r := residualADU{ServerIP: a.ServerIP, ServerPort: a.ServerPort, ClientIP: a.ClientIP, ClientPort: a.ClientPort,
			RunID: a.RunID, ConnID: a.ConnID, Ordinal: a.Ordinal, Direction: a.Direction, Size: a.Size,
			DurationUs: a.DurationUs, ThinkUs: a.ThinkUs, DecidedLagUs: a.DecidedLagUs, Concurrent: a.Concurrent,
			Complete: a.Complete, ThinkToPeer: a.ThinkToPeer}
		if i > 0 && rows[i-1].RunID == a.RunID && rows[i-1].ConnID == a.ConnID {
			p := rows[i-1]
			r.GapUs = a.Ts - (p.Ts + deref(p.DurationUs) + deref(p.ThinkUs))
		} else {
			ts := a.Ts
			r.AnchorTs = &ts
		}
		out[i] = r
	}
	return out
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// plainBytes writes rows with the archive's settings and returns the bytes.
func plainBytes[T any](rows []T) (int64, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedBetterCompression}),
		parquet.PageBufferSize(1<<20), parquet.DataPageVersion(1), parquet.DefaultEncoding(&parquet.Plain))
	if _, err := w.Write(rows); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// representations prints, for the adus and connections files of the
// archive in dir, the bytes of the rows as the archive stores them and of
// the alternatives, all written by plainBytes.
func representations(out *strings.Builder, dir string, gz, zs int64) error {
	adus, err := readTable[schema.ADU](dir, schema.TableADUs)
	if err != nil {
		return err
	}
	conns, err := readTable[schema.Connection](dir, schema.TableConnections)
	if err != nil {
		return err
	}
	a1, err := plainBytes(adus)
	if err != nil {
		return err
	}
	c1, err := plainBytes(conns)
	if err != nil {
		return err
	}
	a2, err := plainBytes(toResidual(adus))
	if err != nil {
		return err
	}
	byTime := append([]schema.Connection(nil), conns...)
	sort.SliceStable(byTime, func(i, j int) bool {
		if byTime[i].ServerIP != byTime[j].ServerIP {
			return byTime[i].ServerIP < byTime[j].ServerIP
		}
		return byTime[i].Ts < byTime[j].Ts
	})
	c2, err := plainBytes(byTime)
	if err != nil {
		return err
	}
	// end_us holds the lag after last_us (zero on most rows).
	lag := append([]schema.Connection(nil), byTime...)
	for i := range lag {
		lag[i].EndUs -= lag[i].LastUs
	}
	c3, err := plainBytes(lag)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "What storing less would save (one plain writer with the archive's settings; adus + connections):")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| representation | adus | connections | total | vs gzip -9 text | vs zstd -19 text |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|")
	line := func(name string, a, c int64) {
		fmt.Fprintf(out, "| %s | %d | %d | %d | %.2f | %.2f |\n", name, a, c, a+c, float64(a+c)/float64(gz), float64(a+c)/float64(zs))
	}
	line("the archive's rows", a1, c1)
	line("connections ordered by server, ts", a1, c2)
	line("... and end_us as its lag after last_us", a1, c3)
	line("... and the ADUs' ts as a residual (windowed to read)", a2, c3)
	return nil
}

// readTable reads every row of table's files under dir, file by file in
// name order, each in its stored order.
func readTable[T any](dir, table string) ([]T, error) {
	files, err := filepath.Glob(filepath.Join(dir, table, "*", "*", "*", "*.parquet"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var rows []T
	for _, f := range files {
		r, err := partition.ReadRows[T](f)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}
