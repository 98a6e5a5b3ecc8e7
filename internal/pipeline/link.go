package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// LinkSource is a live link as a run reads it: a *live.Source, or a test's
// link whose clock it moves.
type LinkSource interface {
	capture.Source
	// Stats are the link's counters so far.
	Stats() (live.Stats, error)
	// Drops and IfaceDrops are the packets the kernel and the interfaces
	// dropped so far.
	Drops() (uint64, error)
	IfaceDrops() (uint64, error)
}

// LinkName is a link's name in the runs table: "live:" and its interfaces.
func LinkName(ifaces []string) string { return "live:" + strings.Join(ifaces, ",") }

// feedLink captures from the link into the engine until ctx is cancelled,
// which ends the run as a complete one (Stopped).
func (r *Run) feedLink(ctx context.Context) error {
	src := r.cfg.Link
	in := schema.Input{Name: r.cfg.LinkName, Format: "live"}
	var read atomic.Int64 // bytes: a link has no size
	r.started(in.Name, -1, &read)
	watch := diskWatch{DiskLimits: r.cfg.Disk, say: r.say}
	if r.arch != nil {
		watch.pause = r.arch.Pause
	}
	var advErr error
	err := r.eng.Feed(ctx, src, &r.dec, func(packets int64) {
		watch.check()
		es := r.eng.Stats()
		p := Point{Conns: r.eng.Conns(), Packets: packets,
			ADUs: int64(es.Records[ingest.KindADU] + es.Records[ingest.KindINC])}
		if d, err := src.Drops(); err == nil {
			p.Drops = int64(d)
		}
		if d, err := src.IfaceDrops(); err == nil {
			p.IfaceDrops = int64(d)
		}
		r.point(p)
		if now, ok := r.eng.Now(); ok && advErr == nil {
			first, ok := r.eng.First()
			if !ok {
				first = ingest.NoTime
			}
			if h, ended := r.hours.see(first, now, [3]int64{p.Packets, p.Drops, p.IfaceDrops}); ended {
				advErr = r.addHour(h)
			}
			// On a quiet link the clock is the wall clock of the empty
			// polls: hours close when they end.
			if advErr == nil {
				advErr = r.advance(now)
			}
		}
	})
	ls, serr := src.Stats()
	r.linkStats = ls
	in.Packets, in.Bytes = int64(ls.Packets), int64(ls.Bytes)
	r.inputs = append(r.inputs, in)
	if errors.Is(err, context.Canceled) {
		err, r.stopped = nil, true
	}
	return errors.Join(err, advErr, serr)
}

// addHour records an hour of the link in the archive (with text output
// the figures are the summary's only).
func (r *Run) addHour(h schema.LinkHour) error {
	if r.arch == nil {
		return nil
	}
	return r.arch.AddHour(h)
}

// endHours records the link's last hour, the one open when the run ended,
// with the run's final counters.
func (r *Run) endHours() error {
	c := [3]int64{int64(r.dec.Stats.Packets), int64(r.linkStats.Drops), int64(r.linkStats.IfaceDrops)}
	if h, ok := r.hours.end(c); ok {
		return r.addHour(h)
	}
	return nil
}

// hourCounter splits a link's counters (packets read, packets the kernel
// and the interfaces dropped, each a running total) by hour of the run's
// clock. It reads them at the run's progress points: an hour gets what
// they grew by up to its last point, and what they grow by between that
// point and the next hour's first is the next hour's. (At a point the
// packets read are those up to the clock, so an hour never gets a later
// hour's packets; it may miss its last quarter second, or its last
// ingest.ProgressEvery packets, to the next.)
type hourCounter struct {
	started bool
	cur     int64    // start (ns) of the hour being counted
	base    [3]int64 // the counters at the end of the hour before
	last    [3]int64 // the counters at its last point
}

// see is a progress point at clock now (ns) with counters c; first is the
// run's first packet time (ns; ingest.NoTime if none yet), whose hour is
// the first counted. When now is in a later hour than the one being
// counted, that one ended: it is returned.
func (h *hourCounter) see(first, now int64, c [3]int64) (schema.LinkHour, bool) {
	hour := hourOf(now)
	if !h.started {
		h.started, h.cur = true, hour
		if first != ingest.NoTime {
			h.cur = min(hourOf(first), hour)
		}
	}
	if hour <= h.cur {
		h.last = c
		return schema.LinkHour{}, false
	}
	out := h.hour(h.last)
	h.cur, h.base, h.last = hour, h.last, c
	return out, true
}

// end returns the hour being counted, with the final counters c; false when
// no progress point was seen.
func (h *hourCounter) end(c [3]int64) (schema.LinkHour, bool) {
	if !h.started {
		return schema.LinkHour{}, false
	}
	h.started = false
	return h.hour(c), true
}

func (h *hourCounter) hour(c [3]int64) schema.LinkHour {
	return schema.LinkHour{Hour: h.cur / int64(time.Microsecond), Packets: c[0] - h.base[0],
		Drops: c[1] - h.base[1], InterfaceDrops: c[2] - h.base[2]}
}

func hourOf(ns int64) int64 { return ns - ns%int64(time.Hour) }

// say passes a message to Config.Say.
func (r *Run) say(level slog.Level, sentence string, attrs ...any) {
	if r.cfg.Say != nil {
		r.cfg.Say(level, sentence, attrs...)
	}
}

// DiskLimits are a live run's limits on the free space of the archive's
// file system (0: none).
type DiskLimits struct {
	// Root is the archive's directory.
	Root string
	// Below Warn free bytes the run says so, once (again after the space
	// came back above Warn by an eighth).
	Warn int64
	// Below Floor free bytes the archive is paused: no new hour opens
	// (their rows are shed and counted; the open hours are still
	// published) until the space is back above Floor by an eighth.
	Floor int64
}

// Defaults of the disk limits (adu2parquet live --disk-warn, --disk-floor).
const (
	DefaultDiskWarn  = 10 << 30
	DefaultDiskFloor = 1 << 30
)

// diskWatch checks the limits at each progress point of a live run.
type diskWatch struct {
	DiskLimits
	say    func(slog.Level, string, ...any)
	pause  func(bool) // nil: not archiving
	warned bool
	paused bool
}

func (d *diskWatch) check() {
	if d.pause == nil || (d.Warn == 0 && d.Floor == 0) {
		return
	}
	var st unix.Statfs_t
	if unix.Statfs(d.Root, &st) != nil {
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	switch {
	case d.Floor > 0 && !d.paused && free < d.Floor:
		d.paused = true
		d.pause(true)
		d.say(slog.LevelWarn, fmt.Sprintf("archive disk %s: %s free, below --disk-floor %s: no new hour is opened (their rows are shed and counted) until there is more",
			d.Root, cli.SizeString(free), cli.SizeString(d.Floor)), "free_bytes", free, "floor_bytes", d.Floor)
	case d.paused && free >= d.Floor+d.Floor/8:
		d.paused = false
		d.pause(false)
		d.say(slog.LevelInfo, fmt.Sprintf("archive disk %s: %s free again: new hours are opened", d.Root, cli.SizeString(free)),
			"free_bytes", free)
	}
	switch {
	case d.Warn > 0 && !d.warned && free < d.Warn:
		d.warned = true
		d.say(slog.LevelWarn, fmt.Sprintf("archive disk %s: %s free, below --disk-warn %s", d.Root, cli.SizeString(free), cli.SizeString(d.Warn)),
			"free_bytes", free, "warn_bytes", d.Warn)
	case d.warned && free >= d.Warn+d.Warn/8:
		d.warned = false
	}
}
