// Package archive turns the inference engine's records into the long-term
// archive: the adus and connections tables as hourly Parquet parts (package
// partition), and one row per collection run in the runs table. It keeps a
// journal of runs in progress so that a crash never leaves a half-written
// file visible and re-running the same input neither duplicates nor loses
// records.
package archive

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/schema"
)

// ErrAlreadyArchived is returned by Open when an input was archived before
// and Options.Replace is not set.
var ErrAlreadyArchived = errors.New("archive: input already archived")

// Options configure an archive run.
type Options struct {
	// Root is the archive directory (created if needed).
	Root string
	// Sensor names the monitor; it is part of every file's path. Default:
	// the host name.
	Sensor string
	// RunID names the run. Default: the start time and a random suffix.
	RunID string
	// Grace is how long after an hour ends (in packet time) its files are
	// published. Default 5 min.
	Grace time.Duration
	// RowGroupRows is the Parquet row group size. Default 256 Ki rows.
	RowGroupRows int64
	// Sorting overrides the order of rows within adus files (see
	// aduSorting); for measurements.
	Sorting []parquet.SortingColumn
	// ZstdLevel is the zstd level, 1 (fastest) to 4 (best). Default 3.
	ZstdLevel int
	// PageBytes is the Parquet data page size before compression. Default
	// 16 MiB.
	PageBytes int
	// Replace archives inputs again that an earlier run archived, deleting
	// that run's rows first.
	Replace bool
	// Producer names the program and version, for the files' footers.
	Producer string
	// Logf receives notices (recovered leftovers, replaced runs); nil
	// discards them.
	Logf func(format string, args ...any)
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// Input is an input of a run, identified by its fingerprint.
type Input struct {
	Name        string
	Fingerprint string // "" if the input cannot be identified (standard input)
}

// Archive receives one run's records. It implements ingest.Sink.
type Archive struct {
	opts    Options
	journal *lockedJournal
	adus    *partition.Writer[schema.ADU]
	conns   *partition.Writer[schema.Connection]
	cache   addrCache
	inputs  []Input
	started time.Time

	aduBuf  []schema.ADU
	connBuf []schema.Connection
	nADUs   int64
	nConns  int64
	err     error
}

func (o *Options) defaults() error {
	if o.Root == "" {
		return errors.New("archive: no directory")
	}
	if o.Sensor == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("sensor name from host name: %w", err)
		}
		o.Sensor = sanitizeSensor(h)
	}
	if err := partition.ValidSensor(o.Sensor); err != nil {
		return err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.RunID = o.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	}
	if o.RunID == compactRun || strings.ContainsAny(o.RunID, "/,") {
		return fmt.Errorf("archive: run id %q not allowed", o.RunID)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Producer == "" {
		o.Producer = "abt"
	}
	return nil
}

// sanitizeSensor turns a host name into a valid sensor name.
func sanitizeSensor(h string) string {
	b := []byte(h)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), ".")
	if s == "" {
		s = "sensor"
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// Open prepares a run: it recovers what crashed runs left behind, refuses
// (or, with Replace, deletes) inputs archived before, writes the run's
// journal and opens the table writers.
func Open(opts Options, inputs []Input) (*Archive, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create archive: %w", err)
	}
	// Rollup builders killed mid-file leave hidden temporary files.
	if err := rollup.RemoveDeadTemps(opts.Root); err != nil {
		return nil, err
	}
	st, err := recoverArchive(opts.Root, opts.Logf)
	if err != nil {
		return nil, err
	}
	replaces, err := st.checkInputs(inputs, opts.Replace, opts.Logf)
	if err != nil {
		return nil, err
	}
	a := &Archive{opts: opts, inputs: inputs, started: opts.Now()}
	entry := &journalEntry{RunID: opts.RunID, Sensor: opts.Sensor, Started: a.started.UTC().Format(time.RFC3339Nano), Replaces: replaces}
	for _, in := range inputs {
		entry.Inputs = append(entry.Inputs, journalInput(in))
	}
	if a.journal, err = createJournal(opts.Root, entry); err != nil {
		return nil, err
	}
	for _, r := range replaces {
		if err := deleteRun(opts.Root, st.parts, r); err != nil {
			return nil, errors.Join(err, a.journal.release())
		}
		if path, crashed := st.journals[r]; crashed {
			// Its rows are gone: forget the crashed run.
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, errors.Join(fmt.Errorf("remove journal %s: %w", path, err), a.journal.release())
			}
		}
		opts.Logf("replaced run %s", r)
	}
	as, cs := aduSorting, connSorting
	if opts.Sorting != nil {
		as = opts.Sorting
	}
	order := aduCmp
	if opts.Sorting != nil {
		order = sortingCmp(opts.Sorting)
	}
	a.adus, err = partition.NewWriter(a.partOptions(schema.TableADUs, as), aduTs, order)
	if err == nil {
		a.conns, err = partition.NewWriter(a.partOptions(schema.TableConnections, cs), connTs, connCmp)
	}
	if err != nil {
		return nil, errors.Join(err, a.journal.release())
	}
	return a, nil
}

func (a *Archive) partOptions(table string, sorting []parquet.SortingColumn) partition.Options {
	return partition.Options{
		Root: a.opts.Root, Table: table, Sensor: a.opts.Sensor, RunID: a.opts.RunID,
		Grace: a.opts.Grace, RowGroupRows: a.opts.RowGroupRows, Sorting: sorting, ZstdLevel: a.opts.ZstdLevel, PageBytes: a.opts.PageBytes,
		SpillDir: spillDir(a.opts.Root),
		Metadata: map[string]string{
			schema.MetaSchemaVersion: strconv.Itoa(schema.Version),
			schema.MetaTable:         table,
			schema.MetaProducer:      a.opts.Producer,
			schema.MetaSensor:        a.opts.Sensor,
			schema.MetaRunIDs:        a.opts.RunID,
		},
	}
}

// RunID returns the run's id.
func (a *Archive) RunID() string { return a.opts.RunID }

// Sensor returns the sensor name.
func (a *Archive) Sensor() string { return a.opts.Sensor }

// Record converts one engine record into rows: ADU and INC records become
// adus rows, END records connections rows; the others are summarised by
// the connection's row.
func (a *Archive) Record(r *ingest.Record) error {
	if a.err != nil {
		return a.err
	}
	switch r.Kind {
	case ingest.KindADU, ingest.KindINC:
		a.aduBuf = append(a.aduBuf, a.cache.aduRow(a.opts.RunID, r))
		a.nADUs++
		if len(a.aduBuf) == cap(a.aduBuf) && len(a.aduBuf) >= 1024 {
			return a.flushRows()
		}
	case ingest.KindEND:
		if r.Conn != nil {
			a.connBuf = append(a.connBuf, a.cache.connRow(a.opts.RunID, r))
			a.nConns++
		}
		if len(a.connBuf) >= 1024 {
			return a.flushRows()
		}
	}
	return nil
}

func (a *Archive) flushRows() error {
	if err := a.adus.Write(a.aduBuf...); err != nil {
		a.err = err
		return err
	}
	clear(a.aduBuf)
	a.aduBuf = a.aduBuf[:0]
	if err := a.conns.Write(a.connBuf...); err != nil {
		a.err = err
		return err
	}
	clear(a.connBuf)
	a.connBuf = a.connBuf[:0]
	return nil
}

// Advance publishes the hours that are complete at packet time nowNs.
func (a *Archive) Advance(nowNs int64) error {
	if a.err != nil {
		return a.err
	}
	if err := a.flushRows(); err != nil {
		return err
	}
	if err := a.adus.Advance(us(nowNs)); err != nil {
		a.err = err
		return err
	}
	if err := a.conns.Advance(us(nowNs)); err != nil {
		a.err = err
		return err
	}
	return nil
}

// RunInfo describes the run for its row in the runs table.
type RunInfo struct {
	Status      string // "complete", or "failed: <why>"
	FirstPacket int64  // ns; NoTime when none
	LastPacket  int64
	Inputs      []schema.Input
	Packets     int64
	Bytes       int64
	TCPSegments int64
	Records     []schema.Counter
	SetAside    []schema.Counter
	Options     ingest.Options
}

// Summary is what a run wrote.
type Summary struct {
	Files int64
	Bytes int64
	ADUs  int64
	Conns int64
}

// Close publishes every open part, writes the run's row in the runs table
// and removes the journal: the run is then complete.
func (a *Archive) Close(info RunInfo) (Summary, error) {
	var sum Summary
	err := a.err
	if err == nil {
		err = a.flushRows()
	}
	if err == nil {
		err = a.adus.Close()
	}
	if err == nil {
		err = a.conns.Close()
	}
	if err != nil {
		a.Abort()
		return sum, err
	}
	for _, p := range append(a.adus.Published(), a.conns.Published()...) {
		sum.Files++
		sum.Bytes += p.Bytes
	}
	sum.ADUs, sum.Conns = a.nADUs, a.nConns
	row := a.runRow(info, sum)
	rw, err := partition.NewWriter(a.partOptions(schema.TableRuns, runSorting), runTs, runCmp)
	if err == nil {
		err = rw.Write(row)
	}
	if err == nil {
		err = rw.Close()
	}
	if err != nil {
		a.Abort()
		return sum, err
	}
	for _, p := range rw.Published() {
		sum.Files++
		sum.Bytes += p.Bytes
	}
	return sum, a.journal.finish()
}

// Abort removes the run's unpublished files and leaves its journal
// unlocked: the published parts stay, and the next run given the same
// input replaces them.
func (a *Archive) Abort() {
	if a.adus != nil {
		a.adus.Abort()
	}
	if a.conns != nil {
		a.conns.Abort()
	}
	if a.journal != nil {
		_ = a.journal.release()
		a.journal = nil
	}
}

func (a *Archive) runRow(info RunInfo, sum Summary) schema.Run {
	now := a.opts.Now()
	o := info.Options
	row := schema.Run{
		RunID: a.opts.RunID, Sensor: a.opts.Sensor, Producer: a.opts.Producer, SchemaVersion: schema.Version,
		Status: info.Status, Started: a.started.UnixMicro(), Finished: now.UnixMicro(),
		FirstPacket: optUs(info.FirstPacket, info.FirstPacket != ingest.NoTime),
		LastPacket:  optUs(info.LastPacket, info.LastPacket != ingest.NoTime),
		Inputs:      info.Inputs, Packets: info.Packets, Bytes: info.Bytes, TCPSegments: info.TCPSegments,
		Connections: sum.Conns, ADUs: sum.ADUs, BytesWritten: sum.Bytes, FilesWritten: sum.Files,
		Records: info.Records, SetAside: info.SetAside,
		QuietTimeUs: o.QuietTime.Microseconds(), HoldUs: o.Hold.Microseconds(),
		IdleTimeoutUs: o.IdleTimeout.Microseconds(), HandshakeUs: o.HandshakeTimeout.Microseconds(),
		MaxConns: int64(o.MaxConns), InboundOnly: o.InboundOnly, TrackPartial: o.TrackPartial,
	}
	for _, p := range o.LocalNets {
		row.LocalNets = append(row.LocalNets, p.String())
	}
	row.Ts = row.Started
	if row.FirstPacket != nil {
		row.Ts = *row.FirstPacket
	}
	return row
}

// state is what recovery found in the archive.
type state struct {
	parts     []part
	completed map[string]schema.Run // runs with a row in the runs table
	crashed   map[string]journalEntry
	journals  map[string]string // journal path of each crashed run
	live      map[string]journalEntry
}

// recoverArchive removes the temporary files of runs that are not running,
// finishes the deletions crashed runs had begun, and reads the run log.
func recoverArchive(root string, logf func(string, ...any)) (*state, error) {
	js, err := readJournals(root)
	if err != nil {
		return nil, err
	}
	st := &state{completed: map[string]schema.Run{}, crashed: map[string]journalEntry{}, live: map[string]journalEntry{},
		journals: map[string]string{}}
	for _, j := range js {
		if j.live {
			st.live[j.entry.RunID] = j.entry
		}
	}
	parts, temps, err := scan(root)
	if err != nil {
		return nil, err
	}
	for _, t := range temps {
		if _, live := st.live[t.run]; live {
			continue
		}
		if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove leftover %s: %w", t.path, err)
		}
		logf("removed leftover %s", t.path)
	}
	spills, _ := filepath.Glob(filepath.Join(spillDir(root), ".spill-*"))
	for _, s := range spills {
		run := strings.TrimPrefix(filepath.Base(s), ".spill-")
		if i := strings.LastIndexByte(run, '-'); i > 0 {
			run = run[:i]
		}
		if _, live := st.live[run]; !live {
			_ = os.Remove(s)
		}
	}
	removeStaleStages(filepath.Join(root, metaDir, "compact"), logf)
	for _, p := range parts {
		if p.table != schema.TableRuns {
			continue
		}
		rows, err := readRows[schema.Run](p.path, schema.TableRuns)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			st.completed[r.RunID] = r
		}
	}
	st.parts = parts
	for _, j := range js {
		if j.live {
			continue
		}
		if _, done := st.completed[j.entry.RunID]; done {
			// Crashed after its row was published: it is complete.
			if err := os.Remove(j.path); err != nil {
				return nil, fmt.Errorf("remove journal %s: %w", j.path, err)
			}
			continue
		}
		for _, r := range j.entry.Replaces {
			if err := deleteRun(root, st.parts, r); err != nil {
				return nil, err
			}
			delete(st.completed, r)
		}
		st.crashed[j.entry.RunID] = j.entry
		st.journals[j.entry.RunID] = j.path
		logf("run %s did not complete (its published files remain; archiving its inputs again replaces them)", j.entry.RunID)
	}
	if len(js) > 0 {
		// Deletions may have changed the listing.
		if st.parts, _, err = scan(root); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// checkInputs finds the earlier runs that archived the inputs. Crashed runs
// are replaced silently; completed ones only with replace, and only when
// this run has all their inputs.
func (st *state) checkInputs(inputs []Input, replace bool, logf func(string, ...any)) ([]string, error) {
	mine := map[string]bool{}
	for _, in := range inputs {
		if in.Fingerprint != "" {
			mine[in.Fingerprint] = true
		}
	}
	var out []string
	for id, e := range st.live {
		for _, in := range e.Inputs {
			if mine[in.Fingerprint] {
				return nil, fmt.Errorf("input %s is being archived by run %s, still running", in.Name, id)
			}
		}
	}
	for id, e := range st.crashed {
		for _, in := range e.Inputs {
			if mine[in.Fingerprint] {
				logf("input %s was being archived by run %s, which did not complete: replacing it", in.Name, id)
				out = append(out, id)
				break
			}
		}
	}
	for id, r := range st.completed {
		var hit []string
		all := true
		for _, in := range r.Inputs {
			if mine[in.Fingerprint] {
				hit = append(hit, in.Name)
			} else {
				all = false
			}
		}
		if len(hit) == 0 {
			continue
		}
		if !replace {
			return nil, fmt.Errorf("%w: %s by run %s (%s); use --replace to archive it again",
				ErrAlreadyArchived, strings.Join(hit, ", "), id, time.UnixMicro(r.Started).UTC().Format(time.RFC3339))
		}
		if !all {
			return nil, fmt.Errorf("run %s also archived inputs not given now; give all of its inputs to replace it", id)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// removeStaleStages removes compaction staging directories whose
// compaction is no longer running (their lock is free).
func removeStaleStages(dir string, logf func(string, ...any)) {
	locks, _ := filepath.Glob(filepath.Join(dir, "stage-*.lock"))
	for _, l := range locks {
		if isLocked(l) {
			continue
		}
		stage := strings.TrimSuffix(l, ".lock")
		_ = os.RemoveAll(stage)
		_ = os.Remove(l)
		logf("removed leftover compaction %s", stage)
	}
}
