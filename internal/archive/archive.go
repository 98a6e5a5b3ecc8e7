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
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/failpoint"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/schema"
)

// ErrAlreadyArchived is returned by Open when an input was archived before
// and Options.Replace is not set.
var ErrAlreadyArchived = errors.New("archive: input already archived")

// ErrNotCommitted is returned by Close for an interrupted run that was to
// commit at its end (a replacement, or one reading standard input): it is
// dropped, and the archive is as it was before it.
var ErrNotCommitted = errors.New("interrupted before it committed: nothing archived, the archive is as it was")

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
	// RowGroupRows is the Parquet row group size. Default
	// partition.DefaultRowGroupRows.
	RowGroupRows int64
	// Sorting overrides the order of rows within adus files (see
	// aduSorting); for measurements.
	Sorting []parquet.SortingColumn
	// ZstdLevel is the zstd level, 1 (fastest) to 4 (best). Default
	// partition.DefaultZstdLevel.
	ZstdLevel int
	// PageBytes is the Parquet data page size before compression. Default
	// partition.DefaultPageBytes.
	PageBytes int
	// SortRows is how many rows a part sorts in memory before spilling
	// them, at most (partition.Options.SortRows); for tests. Default
	// partition.DefaultSortRows.
	SortRows int64
	// Replace archives inputs again that an earlier completed run archived:
	// the run replaces that one when it commits, at its end.
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
	Name string
	// Fingerprint is "" when it is known only once the input has been
	// read (standard input): the run then commits at its end, and is
	// refused then if the input turns out to be archived already.
	Fingerprint string
	// Link marks a network link (adu2parquet live): never archived before,
	// so neither fingerprinted nor refused; its hours are visible as they
	// are published, and if the run is killed the next run records it as
	// crashed with what it published (see StatusCrashed).
	Link bool
}

// Archive receives one run's records. It implements ingest.Sink.
type Archive struct {
	opts    Options
	journal *lockedJournal
	adus    *partition.Writer[aduRow, schema.ADU]
	conns   *partition.Writer[connRow, schema.Connection]
	addrs   *addrs
	inputs  []Input
	started time.Time
	// replaces are the runs this run replaces when it commits;
	// uncommitted says it commits at its end (it replaces runs, or an
	// input's fingerprint is not known yet).
	replaces    []string
	uncommitted bool

	aduBuf  []aduRow
	connBuf []connRow
	err     error

	// Pause: while paused, rows of hours the run has not opened are shed
	// (a sensor whose disk is below its floor), and counted.
	paused              atomic.Bool
	opened              map[partition.Hour]bool
	lastOpened          partition.Hour // the hour admit last let in (opened)
	shedADUs, shedConns atomic.Int64

	// A live run's hours (AddHour), and the open hour log.
	hours   []schema.LinkHour
	hourLog *os.File
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
	if o.RunID == partition.CompactRun || strings.ContainsAny(o.RunID, "/,") {
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

// Open prepares a run: under the archive lock, it recovers what crashed
// runs left behind, refuses inputs archived before (or, with Replace or
// after a run that did not complete, arranges to replace the run that
// archived them), and writes the run's journal; then it opens the table
// writers. Two runs started together on one input cannot both pass: the
// second finds the first's journal.
func Open(opts Options, inputs []Input) (*Archive, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create archive: %w", err)
	}
	lock, err := catalog.Lock(opts.Root)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	// Rollup builders killed mid-file leave hidden temporary files.
	if err := rollup.RemoveDeadTemps(opts.Root); err != nil {
		return nil, err
	}
	st, err := recoverArchive(opts.Root, opts.Logf, recorder{producer: opts.Producer, now: opts.Now})
	if err != nil {
		return nil, err
	}
	replaces, err := st.checkInputs(inputs, opts.Replace, opts.Logf)
	if err != nil {
		return nil, err
	}
	a := &Archive{opts: opts, inputs: inputs, started: opts.Now(), replaces: replaces, uncommitted: len(replaces) > 0}
	for _, in := range inputs {
		if in.Fingerprint == "" && !in.Link {
			a.uncommitted = true
		}
	}
	entry := &journalEntry{RunID: opts.RunID, Sensor: opts.Sensor, Started: a.started.UTC().Format(time.RFC3339Nano),
		Replaces: replaces, Uncommitted: a.uncommitted}
	for _, in := range inputs {
		entry.Inputs = append(entry.Inputs, journalInput(in))
	}
	if a.journal, err = createJournal(opts.Root, entry); err != nil {
		return nil, err
	}
	failpoint.Inject("open-after-journal")
	as := aduSorting
	if opts.Sorting != nil {
		as = opts.Sorting
	}
	// The tables' writers share the run's addresses and, since they sort
	// one chunk at a time, the sorter's buffers (serverSorter is locked:
	// chunks are sorted when they spill, on the archive's goroutine, and
	// when a part is published, on its writer's publisher).
	a.addrs = &addrs{}
	srt := &serverSorter{addrs: a.addrs}
	aduRW := &rowWriter{addrs: a.addrs, runID: opts.RunID}
	connRW := &rowWriter{addrs: a.addrs, runID: opts.RunID}
	ao, co := a.partOptions(schema.TableADUs, as), a.partOptions(schema.TableConnections, connSorting)
	ao.Background, co.Background = true, true
	a.adus, err = partition.NewWriter(ao, aduRW.aduRows(srt, opts.Sorting))
	if err == nil {
		a.conns, err = partition.NewWriter(co, connRW.connRows(srt))
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
		SortRows: a.opts.SortRows,
		SpillDir: spillDir(a.opts.Root), Uncommitted: a.uncommitted,
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
		row := a.addrs.newADURow(r)
		if !a.admit(row.Ts) {
			a.shedADUs.Add(1)
			return nil
		}
		a.aduBuf = append(a.aduBuf, row)
		if len(a.aduBuf) == cap(a.aduBuf) && len(a.aduBuf) >= 1024 {
			return a.flushRows()
		}
	case ingest.KindEND:
		if r.Conn != nil {
			row := a.addrs.newConnRow(r)
			if !a.admit(row.Ts) {
				a.shedConns.Add(1)
				return nil
			}
			a.connBuf = append(a.connBuf, row)
		}
		if len(a.connBuf) >= 1024 {
			return a.flushRows()
		}
	}
	return nil
}

// Pause stops (on) or resumes opening hours the run has not written
// before: while paused, rows of such hours are shed and counted in the
// run's row (adus_shed_disk_floor, conns_shed_disk_floor), rows of hours
// already opened are written. A sensor pauses while its disk is below its
// floor, so that what is open can still be published. Unlike the rest of
// Archive, Pause may be called from any goroutine.
func (a *Archive) Pause(on bool) { a.paused.Store(on) }

// admit reports whether a row of time ts (µs) is written (see Pause), and
// notes its hour as opened.
func (a *Archive) admit(ts int64) bool {
	h := partition.HourOf(ts)
	if h == a.lastOpened && a.opened != nil {
		return true // most rows are of the hour of the row before
	}
	if a.opened[h] {
		a.lastOpened = h
		return true
	}
	if a.paused.Load() {
		return false
	}
	if a.opened == nil {
		a.opened = map[partition.Hour]bool{}
	}
	if len(a.opened) >= maxOpenedHours {
		clear(a.opened) // forgetting an hour only matters while paused
	}
	a.opened[h] = true
	a.lastOpened = h
	return true
}

// maxOpenedHours bounds the hours admit remembers: a month of a live run.
const maxOpenedHours = 24 * 31

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
	Status      string // StatusComplete, StatusInterrupted, or "failed: <why>"
	FirstPacket int64  // ns; NoTime when none
	LastPacket  int64
	Inputs      []schema.Input
	Packets     int64
	Bytes       int64
	Drops       *int64 // packets a live capture dropped; nil for files
	TCPSegments int64
	Records     []schema.Counter
	SetAside    []schema.Counter
	Options     ingest.Options
}

// Summary is what a run published: files and their bytes (the runs
// table's included), and the adus and connections rows in them.
type Summary struct {
	Files int64
	Bytes int64
	ADUs  int64
	Conns int64
	// ShedADUs and ShedConns are the rows shed while paused (Pause).
	ShedADUs, ShedConns int64
}

// Close publishes every open part and writes the run's row in the runs
// table; a run that commits at its end then commits (see commit). The
// journal is removed: the run is complete. On error the Summary still
// says what was published.
func (a *Archive) Close(info RunInfo) (Summary, error) {
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
		return a.summary(nil), err
	}
	failpoint.Inject("close-before-runs-row")
	row := a.runRow(info, a.summary(nil))
	rw, err := writeRunRow(a.partOptions(schema.TableRuns, runSorting), row)
	if err != nil {
		a.Abort()
		return a.summary(nil), err
	}
	sum := a.summary(rw)
	if a.uncommitted && info.Status == StatusInterrupted {
		// A replacement stopped half way would replace whole runs with
		// part of their rows: it is dropped, and they stay.
		err := a.dropUncommitted()
		a.Abort()
		return Summary{}, errors.Join(ErrNotCommitted, err)
	}
	if a.uncommitted {
		if err := a.commit(info.Inputs); err != nil {
			a.Abort()
			return sum, err
		}
	}
	a.closeHourLog()
	err = a.journal.finish()
	a.journal = nil
	return sum, err
}

// writeRunRow publishes a run's row in the runs table, with o (the run's
// partOptions). The writer it returns says what it published.
func writeRunRow(o partition.Options, row schema.Run) (*partition.Writer[runRef, schema.Run], error) {
	rw, err := partition.NewWriter(o, runRows([]schema.Run{row}))
	if err == nil {
		err = rw.Write(runRef{Ts: row.Ts, I: 0})
	}
	if err == nil {
		err = rw.Close()
	}
	if err != nil {
		if rw != nil {
			rw.Abort()
		}
		return nil, err
	}
	return rw, nil
}

// summary says what the run published so far (with the runs table's
// writer, once it has one): rows and files that are in the archive.
func (a *Archive) summary(rw *partition.Writer[runRef, schema.Run]) Summary {
	sum := Summary{ShedADUs: a.shedADUs.Load(), ShedConns: a.shedConns.Load()}
	add := func(pub []partition.Published, rows *int64) {
		for _, p := range pub {
			sum.Files++
			sum.Bytes += p.Bytes
			if rows != nil {
				*rows += p.Rows
			}
		}
	}
	if a.adus != nil {
		add(a.adus.Published(), &sum.ADUs)
	}
	if a.conns != nil {
		add(a.conns.Published(), &sum.Conns)
	}
	if rw != nil {
		add(rw.Published(), nil)
	}
	return sum
}

// Abort removes the run's unpublished files and leaves its journal
// unlocked: the published parts stay, and the next run given the same
// input replaces them (a run that commits at its end is discarded by the
// next run instead: it was never seen).
func (a *Archive) Abort() {
	if a.adus != nil {
		a.adus.Abort()
	}
	if a.conns != nil {
		a.conns.Abort()
	}
	a.closeHourLog()
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
		Inputs:      info.Inputs, Packets: info.Packets, Bytes: info.Bytes, Drops: info.Drops, TCPSegments: info.TCPSegments,
		Connections: sum.Conns, ADUs: sum.ADUs, BytesWritten: sum.Bytes, FilesWritten: sum.Files,
		Records: info.Records, SetAside: slices.Clone(info.SetAside),
		QuietTimeUs: o.QuietTime.Microseconds(), HoldUs: o.Hold.Microseconds(),
		IdleTimeoutUs: o.IdleTimeout.Microseconds(), HandshakeUs: o.HandshakeTimeout.Microseconds(),
		MaxConns: int64(o.MaxConns), InboundOnly: o.InboundOnly, TrackPartial: o.TrackPartial,
		Hours: a.hours,
	}
	for _, c := range []schema.Counter{{Name: "adus_shed_disk_floor", Value: a.shedADUs.Load()},
		{Name: "conns_shed_disk_floor", Value: a.shedConns.Load()}} {
		if c.Value > 0 {
			row.SetAside = append(row.SetAside, c)
		}
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
