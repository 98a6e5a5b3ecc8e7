// Package rollup builds and checks the archive's daily rollups: for each
// sensor and day, histograms of ADU sizes (per direction), of server
// response times and of connection RTTs, and connection totals, per server
// and port and over all servers, in logarithmic bins (see Bin). A month of them is a few percent of the adus table and
// answers the distribution questions of abtq (ADU-size CDFs, response-time
// quantiles per server or per day) in a fraction of the time a scan of every
// ADU takes.
//
// Layout: <root>/rollups/sensor=<sensor>/date=YYYY-MM-DD/rollup.parquet,
// one file per day, written by DuckDB from that day's adus and connections
// part files under
// a hidden temporary name, synced and renamed into place. Its footer
// records a fingerprint of the part files it was built from (names and
// sizes): when the day's parts change (a late part, a
// compaction, a replaced run), the rollup no longer matches and is not
// used; Update rebuilds it. A rollup is therefore never wrong, only
// missing or stale, and readers fall back to the ADU rows for such days
// through the same SQL (HistSQL), so results do not depend on whether a
// rollup was current.
package rollup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/queries"
	"github.com/abt-dev/abt/schema"
)

// Table is the rollups' top-level directory in the archive.
const Table = "rollups"

// FileName is the name of a day's rollup file.
const FileName = "rollup.parquet"

// Version is written to every rollup's footer (MetaVersion); a rollup of
// another version is treated as missing.
const Version = "2"

// Footer metadata keys of a rollup file.
const (
	MetaVersion = "abt.rollup_version"
	MetaSources = "abt.sources" // Fingerprint of the parts it summarises
)

// Sub is the number of bins per octave above the exact range: a bin is at
// most 1/Sub of its lower bound wide, so a bin's midpoint is within
// 1/(2·Sub) (0.78 %) of any value in it.
const Sub = 64

// Bin returns the histogram bin of a non-negative value v (bytes or µs):
// v itself below 2·Sub (128), else Sub bins per power of two. Negative
// values are their own bin.
func Bin(v int64) int64 {
	if v < 2*Sub {
		return v
	}
	e := int64(bits.Len64(uint64(v))) - 1 // v's most significant bit, >= 7
	return (e-6)*Sub + v>>(e-6)
}

// BinLow returns the smallest value in bin b.
func BinLow(b int64) int64 {
	if b < 2*Sub {
		return b
	}
	return (b%Sub + Sub) << (b/Sub - 1)
}

// BinHigh returns the largest value in bin b.
func BinHigh(b int64) int64 {
	if b < 2*Sub {
		return b
	}
	return BinLow(b) + (int64(1) << (b/Sub - 1)) - 1
}

// Macros defines Bin, BinLow, BinHigh and the bin midpoint as DuckDB
// macros abt_bin, abt_bin_low, abt_bin_high and abt_bin_mid:
// queries/archive/macros.sql, which any DuckDB client can run too
// (TestMacrosMatchBin checks them against the Go functions).
var Macros = queries.MustStatements("macros")

// HistSQL returns a query computing rollup rows from aduSrc and connSrc,
// relations with the adus and connections tables' columns (read_parquet
// calls; "" for none, but not both). Each row is a day, a server and port
// (server_ip and server_port NULL for the row over all servers), a kind and
// a bin, with n:
//
//   - c2s, s2c: ADU sizes (bytes) per bin, n ADUs;
//   - rt: response times (µs: the think time of a sequential request that
//     the server's data ended) per bin, n requests;
//   - rtt: SYN-ACK round-trip times (µs) of connections per bin;
//   - conns, bytes_in, bytes_out, exchanges, rst (bin 0): the connections,
//     their client and server bytes (sequence space), exchanges, and those
//     that saw a RST.
//
// ADU rows count on the day of their ts, connection rows on the day of
// theirs (the connection's first packet). It needs Macros.
func HistSQL(aduSrc, connSrc string) string {
	var parts []string
	if aduSrc != "" {
		parts = append(parts, `SELECT ts, server_ip, server_port, kind, abt_bin(x) AS bin, count(*) AS n
FROM (
  SELECT date_trunc('day', ts) AS ts, server_ip, server_port, direction AS kind, size AS x FROM `+aduSrc+`
  UNION ALL
  SELECT date_trunc('day', ts), server_ip, server_port, 'rt', think_us FROM `+aduSrc+`
  WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND think_us IS NOT NULL
)
GROUP BY GROUPING SETS ((ts, server_ip, server_port, kind, bin), (ts, kind, bin))`)
	}
	if connSrc != "" {
		parts = append(parts, `SELECT ts, server_ip, server_port, 'rtt' AS kind, abt_bin(rtt_us) AS bin, count(*) AS n
FROM (SELECT date_trunc('day', ts) AS ts, server_ip, server_port, rtt_us FROM `+connSrc+` WHERE rtt_us IS NOT NULL)
GROUP BY GROUPING SETS ((ts, server_ip, server_port, bin), (ts, bin))`,
			`SELECT ts, server_ip, server_port, kind, 0::BIGINT AS bin, n
FROM (
  SELECT ts, server_ip, server_port, count(*) AS conns,
    sum(c2s_unique_bytes)::BIGINT AS bytes_in, sum(s2c_unique_bytes)::BIGINT AS bytes_out,
    sum(exchanges)::BIGINT AS exchanges, count(*) FILTER (WHERE c2s_rst OR s2c_rst) AS rst
  FROM (SELECT date_trunc('day', ts) AS ts, * EXCLUDE (ts) FROM `+connSrc+`)
  GROUP BY GROUPING SETS ((ts, server_ip, server_port), (ts))
) UNPIVOT (n FOR kind IN (conns, bytes_in, bytes_out, exchanges, rst))`)
	}
	return strings.Join(parts, "\nUNION ALL\n")
}

// SourceSQL returns the two relations HistSQL takes over a day's parts as
// held in p (their links, or their paths when read in place): read_parquet
// calls, leaving out the rows of the runs the snapshot hides.
func SourceSQL(p *catalog.Pinned, files []catalog.File) (aduSrc, connSrc string, err error) {
	var adus, conns []string
	for _, f := range files {
		switch f.Table {
		case schema.TableADUs:
			adus = append(adus, p.Path(f))
		case schema.TableConnections:
			conns = append(conns, p.Path(f))
		default:
			return "", "", fmt.Errorf("rollup: %s is not an adus or connections part", f.Path)
		}
	}
	aduSrc, connSrc = sourceSQL(adus, conns, p.Hidden())
	return aduSrc, connSrc, nil
}

// sourceSQL reads the adus and connections files given, leaving out the
// rows of hidden runs.
func sourceSQL(adus, conns, hidden []string) (aduSrc, connSrc string) {
	where := ""
	if len(hidden) > 0 {
		where = " WHERE run_id NOT IN (SELECT unnest(" + duckbox.LiteralList(hidden) + "))"
	}
	read := func(l []string) string {
		if len(l) == 0 {
			return ""
		}
		return "(SELECT * FROM read_parquet(" + duckbox.LiteralList(l) + ", hive_partitioning = false)" + where + ")"
	}
	return read(adus), read(conns)
}

// Path returns the rollup file of one sensor's day.
func Path(root, sensor string, day time.Time) string {
	return filepath.Join(root, Table, "sensor="+sensor, "date="+day.UTC().Format("2006-01-02"), FileName)
}

// Day is one sensor's day of the archive.
type Day struct {
	Sensor string
	Date   time.Time // midnight UTC
}

// String formats the day as sensor/YYYY-MM-DD.
func (d Day) String() string { return d.Sensor + "/" + d.Date.Format("2006-01-02") }

// DayOf returns the sensor and day of a part.
func DayOf(f catalog.File) Day {
	t := f.Hour.Time()
	return Day{Sensor: f.Sensor, Date: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
}

// SourceTables are the tables a rollup summarises.
var SourceTables = []string{schema.TableADUs, schema.TableConnections}

// Sources holds the adus and connections parts of one sensor's day that a
// reader sees, as catalog.Open does (pinned under pinParent when they must
// be pinned; "" for catalog.PinDir).
func Sources(root, pinParent string, d Day) (*catalog.Pinned, error) {
	return catalog.Open(root, catalog.Selection{Tables: SourceTables, Sensor: d.Sensor, From: d.Date, To: d.Date.Add(24 * time.Hour)}, pinParent)
}

// Fingerprint identifies the rows of a set of pinned parts: their
// archive-relative paths under their published names, their sizes, and the
// runs whose rows readers leave out. Published parts are never modified and
// their names never reused (a run's parts carry its unique run id, a merged
// file its creation time), so equal fingerprints mean equal rows; file
// times are left out so that a copied archive keeps its rollups current.
func Fingerprint(files []catalog.File, hidden []string) string {
	lines := make([]string, 0, len(files)+len(hidden))
	for _, f := range files {
		lines = append(lines, fmt.Sprintf("%s\t%d\n", filepath.ToSlash(f.Rel()), f.Size))
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	for _, r := range hidden {
		fmt.Fprintf(h, "hidden\t%s\n", r)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DayFiles returns the files of a snapshot's tables in SourceTables, by day.
func DayFiles(s *catalog.Snapshot) (map[Day][]catalog.File, []Day) {
	byDay := map[Day][]catalog.File{}
	var days []Day
	for _, table := range SourceTables {
		for _, f := range s.Files[table] {
			d := DayOf(f)
			if _, ok := byDay[d]; !ok {
				days = append(days, d)
			}
			byDay[d] = append(byDay[d], f)
		}
	}
	sort.Slice(days, func(i, j int) bool {
		if days[i].Sensor != days[j].Sensor {
			return days[i].Sensor < days[j].Sensor
		}
		return days[i].Date.Before(days[j].Date)
	})
	return byDay, days
}

// Current reports whether the rollup open as f is of this Version and was
// built from the parts whose Fingerprint is fp.
func Current(f *os.File, fp string) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return false // unreadable: rebuilt by Update, never used
	}
	if v, _ := pf.Lookup(MetaVersion); v != Version {
		return false
	}
	got, _ := pf.Lookup(MetaSources)
	return got == fp
}

// IsCurrent reports whether day d has a current rollup, as Update and abtq
// decide it.
func IsCurrent(root string, d Day) (bool, error) {
	p, err := Sources(root, "", d)
	if err != nil {
		return false, err
	}
	defer p.Close()
	var files []catalog.File
	for _, t := range SourceTables {
		files = append(files, p.Files[t]...)
	}
	f, err := os.Open(Path(root, d.Sensor, d.Date))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rollup: %w", err)
	}
	defer f.Close()
	return Current(f, Fingerprint(files, p.Hidden())), nil
}

// builtFrom returns the sources fingerprint recorded in the day's rollup;
// ok is false when there is no rollup of this Version.
func builtFrom(root string, d Day) (fp string, ok bool, err error) {
	path := Path(root, d.Sensor, d.Date)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("rollup: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", false, fmt.Errorf("rollup: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return "", false, nil // unreadable: rebuilt by Update, never used
	}
	if v, _ := pf.Lookup(MetaVersion); v != Version {
		return "", false, nil
	}
	fp, _ = pf.Lookup(MetaSources)
	return fp, true, nil
}
