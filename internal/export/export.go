// Package export writes a publishable data set from an archive: the rows
// of a time range (optionally of some servers, ports, or inbound
// connections only) as Parquet in the archive's own layout, so that abtq
// and every engine that reads the archive read it too, with
// the metadata a data-set catalogue asks for (README.md, a Frictionless
// datapackage.json, a schema.org Dataset in dataset.jsonld) and the
// SHA-256 checksums of every file (SHA256SUMS, as sha256sum -c reads
// them). Addresses may be anonymized (Crypto-PAn, package anonymize) and
// timestamps truncated; docs/publishing.md says what each choice hides.
//
// The data set is built in a hidden directory beside the destination and
// renamed into place when complete: it appears whole or not at all.
package export

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/abt-dev/abt/internal/anonymize"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// Options say what to export and how.
type Options struct {
	// Archive is the archive read; Dir the data set's directory, which
	// must not exist (its parent must).
	Archive, Dir string
	// Sensor, when set, selects one sensor's rows.
	Sensor string
	// From and To bound the rows' ts, [From, To); zero is unbounded.
	From, To time.Time
	// Servers, when set, keep the rows whose server address is in one of
	// the prefixes; Ports those whose server port is one of them.
	Servers []netip.Prefix
	Ports   []int32
	// Inbound keeps the connections labelled in (their server inside the
	// local networks) and their ADUs.
	Inbound bool
	// KeyFile, when set, anonymizes every address with Crypto-PAn under
	// the key in this file, created (mode 0600) when missing.
	KeyFile string
	// Resolution truncates every absolute time (ts and the runs' times) to
	// a multiple of it; zero or 1 µs keeps them as stored. Durations are
	// kept.
	Resolution time.Duration
	// Format is the tables' format: FormatParquet (the default), FormatCSV
	// or FormatTmix.
	Format string
	// Describe is what the metadata say about the data set.
	Describe Description
	// Producer names the program and version that exports (abtq's).
	Producer string
	// Args is the command line, recorded in the README.
	Args []string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// The formats of a data set's tables.
const (
	// FormatParquet: the archive's own files and layout.
	FormatParquet = "parquet"
	// FormatCSV: a gzip'd CSV file per table (csvFile).
	FormatCSV = "csv"
	// FormatTmix: the connections' vectors as tmix reads them (TmixFile),
	// for traffic generators; the runs stay in the README.
	FormatTmix = "tmix"
	// FormatAdudump: the records as adudump text (AdudumpFile), for the
	// tools written against it; adu2parquet reads it back.
	FormatAdudump = "adudump"
)

// Formats lists the formats Export writes.
var Formats = []string{FormatParquet, FormatCSV, FormatTmix, FormatAdudump}

// Description is what the data set's metadata say that the archive does
// not know.
type Description struct {
	Title, Description string
	// Place is where the sensor watched (a campus, a link), Vantage what
	// it saw from there (the border link, both directions).
	Place, Vantage string
	// Creator and Contact name who collected it and whom to ask.
	Creator, Contact string
	// License names the terms of use (a placeholder when empty).
	License string
}

// Table is what one table of the export holds.
type Table struct {
	Name  string
	Rows  int64
	Files []string // relative to the data set's directory
	Bytes int64
}

// Result says what was exported.
type Result struct {
	Dir    string
	Tables []Table // adus, connections, runs
	// First and Last are the least and greatest ts of the adus and
	// connections rows exported (zero when none).
	First, Last time.Time
	// Sensors are the sensors the rows come from.
	Sensors []string
	// Runs are the runs rows exported (the collection log of the rows).
	Runs []schema.Run
	// Anonymized says addresses were mapped; KeyCreated that the key file
	// was created by this export.
	Anonymized, KeyCreated bool
}

// Export writes the data set o asks for.
func Export(ctx context.Context, o Options) (res Result, err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Resolution < 0 {
		return res, errors.New("export: the time resolution must be positive")
	}
	if o.Format == "" {
		o.Format = FormatParquet
	}
	if !slices.Contains(Formats, o.Format) {
		return res, fmt.Errorf("export: format %q: must be parquet, csv, tmix or adudump", o.Format)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return res, fmt.Errorf("export: %w", err)
	}
	if _, err := os.Lstat(dir); err == nil {
		return res, fmt.Errorf("export: %s exists: give a new directory", o.Dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("export: %w", err)
	}
	root, err := filepath.Abs(o.Archive)
	if err != nil {
		return res, fmt.Errorf("export: %w", err)
	}
	if rel, err := filepath.Rel(root, dir); err == nil && filepath.IsLocal(rel) {
		return res, fmt.Errorf("export: %s is inside the archive", o.Dir)
	}
	x := &exporter{o: o, root: root, res: &res, inbound: map[connKey]bool{}, runs: map[runKey]bool{},
		csv: map[string]*csvTable{}}
	if o.Format == FormatTmix || o.Format == FormatAdudump {
		x.dialogs = map[connKey]*dialog{}
	}
	if o.KeyFile != "" {
		key, created, err := anonymize.LoadOrCreateKey(o.KeyFile)
		if err != nil {
			return res, fmt.Errorf("export: %w", err)
		}
		if x.anon, err = anonymize.New(key); err != nil {
			return res, fmt.Errorf("export: %w", err)
		}
		res.Anonymized, res.KeyCreated = true, created
	}
	stage, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".partial-")
	if err != nil {
		return res, fmt.Errorf("export: %w", err)
	}
	x.stage = stage
	defer func() {
		for _, t := range x.csv {
			t.out.abort() // closed already when complete
		}
		if err != nil {
			err = errors.Join(err, os.RemoveAll(stage))
		}
	}()
	if o.Format == FormatCSV {
		for _, t := range schema.Tables {
			if x.csv[t], err = newCSVTable(stage, t); err != nil {
				return res, err
			}
		}
	}
	pins, err := catalog.Open(root, catalog.Selection{Sensor: o.Sensor, From: o.From, To: o.To,
		Tables: []string{schema.TableADUs, schema.TableConnections}}, "")
	if err != nil {
		return res, err
	}
	x.hidden = map[string]bool{}
	for _, r := range pins.Hidden() {
		x.hidden[r] = true
	}
	// Connections first: with Inbound, they say which ADUs are kept.
	err = errors.Join(eachHour(ctx, pins, schema.TableConnections, x.connections), pins.Close())
	if err != nil {
		return res, err
	}
	if pins, err = catalog.Open(root, catalog.Selection{Sensor: o.Sensor, From: o.From, To: o.To,
		Tables: []string{schema.TableADUs}}, ""); err != nil {
		return res, err
	}
	if err := errors.Join(eachHour(ctx, pins, schema.TableADUs, x.adus), pins.Close()); err != nil {
		return res, err
	}
	if err := x.runsTable(ctx); err != nil {
		return res, err
	}
	res.Tables = slices.Clone(x.tables[:])
	for i := range res.Tables {
		res.Tables[i].Name = schema.Tables[i]
		if t := x.csv[schema.Tables[i]]; t != nil {
			size, err := t.close()
			if err != nil {
				return res, err
			}
			res.Tables[i].Files, res.Tables[i].Bytes = []string{t.name}, size
		}
	}
	if o.Format == FormatTmix {
		start := o.From.UnixMicro()
		if o.From.IsZero() {
			start = x.res.First.UnixMicro()
		}
		conns := x.sortedDialogs()
		n, size, err := writeTmix(stage, conns, x.time(start))
		if err != nil {
			return res, err
		}
		res.Tables = []Table{{Name: "tmix", Rows: n, Files: []string{TmixFile}, Bytes: size}}
	}
	if o.Format == FormatAdudump {
		n, size, err := writeAdudump(stage, x.sortedDialogs())
		if err != nil {
			return res, err
		}
		res.Tables = []Table{{Name: "adudump", Rows: n, Files: []string{AdudumpFile}, Bytes: size}}
	}
	if err := writeMetadata(stage, o, &res); err != nil {
		return res, err
	}
	if err := os.Rename(stage, dir); err != nil {
		return res, fmt.Errorf("export: %w", err)
	}
	res.Dir = dir
	return res, partition.SyncDir(filepath.Dir(dir))
}

// connKey names a connection across the archive; runKey a run.
type (
	connKey struct {
		sensor, run string
		conn        int64
	}
	runKey struct{ sensor, run string }
)

// exporter is one export's state.
type exporter struct {
	o       Options
	root    string
	stage   string
	res     *Result
	anon    *anonymize.CryptoPAn
	hidden  map[string]bool
	inbound map[connKey]bool // with Inbound: the connections kept
	runs    map[runKey]bool  // the runs whose rows were kept
	tables  [3]Table         // in schema.Tables' order (tableIndex)
	csv     map[string]*csvTable
	dialogs map[connKey]*dialog // with FormatTmix and FormatAdudump
}

func tableIndex(t string) int { return slices.Index(schema.Tables, t) }

// eachHour reads the files of table hour by hour (the pinned files are in
// path order: sensor, date, hour) and passes each hour's rows to fn.
func eachHour(ctx context.Context, pins *catalog.Pinned, table string, fn func(sensor string, h partition.Hour, files []string) error) error {
	files := pins.Files[table]
	for i := 0; i < len(files); {
		j := i
		var paths []string
		for j < len(files) && files[j].Sensor == files[i].Sensor && files[j].Hour == files[i].Hour {
			paths = append(paths, pins.Path(files[j]))
			j++
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(files[i].Sensor, files[i].Hour, paths); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// readRows reads every row of the files.
func readRows[T any](paths []string) ([]T, error) {
	var out []T
	for _, p := range paths {
		rows, err := partition.ReadRows[T](p)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// keep reports whether a row of ts, run, server and port is exported.
func (x *exporter) keep(ts int64, run, server string, port int32) bool {
	if x.hidden[run] {
		return false
	}
	if !x.o.From.IsZero() && ts < x.o.From.UnixMicro() || !x.o.To.IsZero() && ts >= x.o.To.UnixMicro() {
		return false
	}
	if len(x.o.Ports) > 0 && !slices.Contains(x.o.Ports, port) {
		return false
	}
	if len(x.o.Servers) > 0 {
		a, err := netip.ParseAddr(server)
		if err != nil || !slices.ContainsFunc(x.o.Servers, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return false
		}
	}
	return true
}

// addr anonymizes an address's text (an address that does not parse,
// which the archive never holds, is withheld).
func (x *exporter) addr(s string) string {
	if x.anon == nil {
		return s
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "withheld"
	}
	return x.anon.Addr(a).String()
}

// time truncates an absolute time (µs) to the resolution.
func (x *exporter) time(us int64) int64 {
	r := x.o.Resolution.Microseconds()
	if r <= 1 {
		return us
	}
	q := us / r * r
	if q > us { // negative times round down too
		q -= r
	}
	return q
}

func (x *exporter) seen(ts int64) {
	t := time.UnixMicro(ts).UTC()
	if x.res.First.IsZero() || t.Before(x.res.First) {
		x.res.First = t
	}
	if x.res.Last.IsZero() || t.After(x.res.Last) {
		x.res.Last = t
	}
}

// sortedDialogs returns the connections' dialogs in order (sortDialogs).
func (x *exporter) sortedDialogs() []*dialog {
	conns := make([]*dialog, 0, len(x.dialogs))
	for _, c := range x.dialogs {
		conns = append(conns, c)
	}
	sortDialogs(conns)
	return conns
}

func (x *exporter) write(table, sensor string, h partition.Hour, rows any, n int) error {
	if n == 0 {
		return nil
	}
	if !slices.Contains(x.res.Sensors, sensor) {
		x.res.Sensors = append(x.res.Sensors, sensor)
	}
	t := &x.tables[tableIndex(table)]
	switch x.o.Format {
	case FormatTmix, FormatAdudump:
		return nil
	case FormatCSV:
		if err := archive.SortRows(rows); err != nil {
			return err
		}
		t.Rows += int64(n)
		return x.csv[table].write(rows)
	}
	path, err := archive.WriteHour(x.stage, table, sensor, h, rows, x.o.Producer)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	rel, err := filepath.Rel(x.stage, path)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	t.Rows += int64(n)
	t.Files = append(t.Files, rel)
	t.Bytes += st.Size()
	return nil
}

func (x *exporter) connections(sensor string, _ partition.Hour, paths []string) error {
	rows, err := readRows[schema.Connection](paths)
	if err != nil {
		return err
	}
	byHour := map[partition.Hour][]schema.Connection{}
	for _, c := range rows {
		if !x.keep(c.Ts, c.RunID, c.ServerIP, c.ServerPort) || x.o.Inbound && c.Label != "in" {
			continue
		}
		if x.o.Inbound {
			x.inbound[connKey{sensor, c.RunID, c.ConnID}] = true
		}
		x.runs[runKey{sensor, c.RunID}] = true
		x.seen(c.Ts)
		c.ServerIP, c.ClientIP = x.addr(c.ServerIP), x.addr(c.ClientIP)
		c.Ts = x.time(c.Ts)
		if x.dialogs != nil {
			k := connKey{sensor, c.RunID, c.ConnID}
			x.dialogs[k] = &dialog{key: k, c: c}
		}
		// The truncated ts's hour: a coarse resolution may move a row into
		// an earlier hour.
		h := partition.HourOf(c.Ts)
		byHour[h] = append(byHour[h], c)
	}
	return writeHours(x, schema.TableConnections, sensor, byHour)
}

func (x *exporter) adus(sensor string, _ partition.Hour, paths []string) error {
	rows, err := readRows[schema.ADU](paths)
	if err != nil {
		return err
	}
	byHour := map[partition.Hour][]schema.ADU{}
	for _, a := range rows {
		if !x.keep(a.Ts, a.RunID, a.ServerIP, a.ServerPort) || x.o.Inbound && !x.inbound[connKey{sensor, a.RunID, a.ConnID}] {
			continue
		}
		x.runs[runKey{sensor, a.RunID}] = true
		x.seen(a.Ts)
		a.ServerIP, a.ClientIP = x.addr(a.ServerIP), x.addr(a.ClientIP)
		a.Ts = x.time(a.Ts)
		if c := x.dialogs[connKey{sensor, a.RunID, a.ConnID}]; c != nil {
			c.adus = append(c.adus, a)
		}
		h := partition.HourOf(a.Ts)
		byHour[h] = append(byHour[h], a)
	}
	return writeHours(x, schema.TableADUs, sensor, byHour)
}

// writeHours writes the rows of each hour, in hour order.
func writeHours[T any](x *exporter, table, sensor string, byHour map[partition.Hour][]T) error {
	hours := make([]partition.Hour, 0, len(byHour))
	for h := range byHour {
		hours = append(hours, h)
	}
	slices.SortFunc(hours, func(a, b partition.Hour) int { return cmp.Compare(a.Time().UnixMicro(), b.Time().UnixMicro()) })
	for _, h := range hours {
		if err := x.write(table, sensor, h, byHour[h], len(byHour[h])); err != nil {
			return err
		}
	}
	return nil
}

// runsTable exports the runs rows of the runs whose rows were exported,
// and of the runs of the selected sensors whose packets overlap the range
// (a run that read nothing kept is still part of the collection log:
// its loss and the outages around it).
func (x *exporter) runsTable(ctx context.Context) error {
	pins, err := catalog.Open(x.root, catalog.Selection{Sensor: x.o.Sensor, Tables: []string{schema.TableRuns}}, "")
	if err != nil {
		return err
	}
	defer pins.Close()
	byKey := map[runKey]map[partition.Hour][]schema.Run{}
	err = eachHour(ctx, pins, schema.TableRuns, func(sensor string, _ partition.Hour, paths []string) error {
		rows, err := readRows[schema.Run](paths)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if x.hidden[r.RunID] || !x.runs[runKey{sensor, r.RunID}] && !x.overlaps(r) {
				continue
			}
			x.anonymizeRun(&r)
			x.res.Runs = append(x.res.Runs, r)
			k := runKey{sensor: sensor}
			if byKey[k] == nil {
				byKey[k] = map[partition.Hour][]schema.Run{}
			}
			h := partition.HourOf(r.Ts)
			byKey[k][h] = append(byKey[k][h], r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	keys := make([]runKey, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b runKey) int { return cmp.Compare(a.sensor, b.sensor) })
	for _, k := range keys {
		if err := writeHours(x, schema.TableRuns, k.sensor, byKey[k]); err != nil {
			return err
		}
	}
	return nil
}

// overlaps reports whether a run's packets overlap the range (a run with
// no packet does not).
func (x *exporter) overlaps(r schema.Run) bool {
	if r.FirstPacket == nil || r.LastPacket == nil {
		return false
	}
	return (x.o.To.IsZero() || *r.FirstPacket < x.o.To.UnixMicro()) && (x.o.From.IsZero() || *r.LastPacket >= x.o.From.UnixMicro())
}

// anonymizeRun maps what a runs row says about addresses (its local
// networks, prefix-preservingly; its inputs' names, withheld) and
// truncates its times.
func (x *exporter) anonymizeRun(r *schema.Run) {
	r.Ts = x.time(r.Ts)
	r.Started, r.Finished = x.time(r.Started), x.time(r.Finished)
	for _, p := range []*int64{r.FirstPacket, r.LastPacket} {
		if p != nil {
			*p = x.time(*p)
		}
	}
	r.Hours = slices.Clone(r.Hours)
	for i := range r.Hours {
		r.Hours[i].Hour = x.time(r.Hours[i].Hour)
	}
	if x.anon == nil {
		return
	}
	nets := make([]string, len(r.LocalNets))
	for i, n := range r.LocalNets {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			nets[i] = "withheld"
			continue
		}
		nets[i] = x.anon.Prefix(p).String()
	}
	r.LocalNets = nets
	inputs := slices.Clone(r.Inputs)
	for i := range inputs {
		inputs[i].Name = "input " + strconv.Itoa(i+1)
	}
	r.Inputs = inputs
}
