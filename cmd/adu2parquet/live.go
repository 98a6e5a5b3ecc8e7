package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/metrics"
	"github.com/abt-dev/abt/schema"
)

// newLiveCmd is 'adu2parquet live': the same run, from network interfaces
// instead of files, until a signal stops it.
func newLiveCmd(o *options, runF func(*options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "live -i <interface> [-i <interface>]... [flags]",
		Short: "Archive the a-b-t connection vectors of a live link until stopped",
		Long: strings.TrimSpace(`
live captures the TCP/IP headers passing the given interfaces (Linux
AF_PACKET with a memory-mapped ring; several interfaces, such as the two
directions of a tap, are merged in the order the kernel received their
frames) and archives their connections' a-b-t vectors as adu2parquet does
for files: the same inference, the same archive, hours published as the
clock passes them, even when the link is quiet.

Frames are cut to --snaplen bytes in the kernel (headers only); the kernel
drops frames when the program falls behind by more than --ring, and the run
counts them (the summary, and packets_dropped_kernel in the runs table).

SIGINT or SIGTERM ends the run: the open hours are published, the run is
recorded, and the exit status is 0. Capturing needs CAP_NET_RAW (root, or
'setcap cap_net_raw+ep' on the program).`),
		Example: cli.Example(`
  # Archive the link behind eth1 into /data/abt
  $ adu2parquet live -i eth1 --out /data/abt --sensor campus-edge

  # The two directions of a tap, labelled by the campus network
  $ adu2parquet live -i tap0 -i tap1 --local-net 152.2.0.0/16 --out /data/abt

  # Watch the records as adudump text instead
  $ adu2parquet live -i eth1 --format adudump`),
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.ifaces) == 0 {
				return &usageError{errors.New("live needs at least one interface (-i)")}
			}
			if o.snapLen < 64 || o.snapLen > 65535 {
				return &usageError{errors.New("--snaplen: must be 64 to 65535 bytes")}
			}
			if o.ring < 1<<20 {
				return &usageError{errors.New("--ring: must be at least 1MiB")}
			}
			switch o.logFormat {
			case logPlain, logText, logJSON:
			default:
				return &usageError{fmt.Errorf("--log-format %q: must be plain, text or json", o.logFormat)}
			}
			if o.diskFloor > 0 && o.diskWarn > 0 && o.diskFloor >= o.diskWarn {
				return &usageError{errors.New("--disk-floor: must be below --disk-warn")}
			}
			if err := o.checkFormat(cmd.Flags()); err != nil {
				return err
			}
			return runF(o)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.StringArrayVarP(&o.ifaces, "interface", "i", nil, "capture on this `interface` (repeatable)")
	f.IntVar(&o.snapLen, "snaplen", live.DefaultSnapLen, "bytes kept of each frame, from its start")
	f.StringVar(&o.filter, "filter", "", "keep only the frames this `expression` matches, in the kernel (tcpdump's syntax, a subset: docs/operations.md)")
	o.ring = byteSize(live.DefaultRingBytes)
	f.Var(&o.ring, "ring", "size of the kernel's capture ring")
	f.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on this `host:port` (/metrics)")
	f.StringVar(&o.logFormat, "log-format", logPlain, "messages on standard error: {plain|text|json} (text and json: log/slog records)")
	o.diskWarn, o.diskFloor = defaultDiskWarn, defaultDiskFloor
	f.Var(&o.diskWarn, "disk-warn", "warn when the archive's file system has less free space than this (0: never)")
	f.Var(&o.diskFloor, "disk-floor", "below this much free space, open no new hour until there is more again (0: never)")
	o.addFlags(f, false)
	return cmd
}

// liveSource is what live reads: a *live.Source.
type liveSource interface {
	capture.Source
	Stats() (live.Stats, error)
	Drops() (uint64, error)
	IfaceDrops() (uint64, error)
}

// openLive opens the interfaces; a test puts a source of its own here (a
// link whose clock it moves).
var openLive = func(ifaces []string, o live.Options) (liveSource, error) {
	s, err := live.Open(ifaces, o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// liveName is a live input's name in the runs table: "live:" and the
// interfaces.
func liveName(ifaces []string) string { return "live:" + strings.Join(ifaces, ",") }

// feedLive captures from the interfaces into the engine until a signal
// (st.ctx) stops it, which ends the run as a complete one.
func (st *runState) feedLive() error {
	src := st.liveSrc
	in := schema.Input{Name: liveName(st.o.ifaces), Format: "live"}
	var read atomic.Int64 // bytes: a link has no size
	st.prog.start(in.Name, -1, &read)
	sensor := &metrics.Sensor{Root: st.o.out}
	if st.sink.arch != nil {
		arch := st.sink.arch
		sensor.Published = func() (int64, int64) {
			sum := arch.Published()
			return sum.Files, sum.ADUs
		}
	}
	if st.o.metrics != "" {
		srv, err := metrics.Serve(st.o.metrics, sensor)
		if err != nil {
			return err
		}
		defer srv.Close()
		if !st.o.quiet {
			url := fmt.Sprintf("http://%s/metrics", srv.Addr())
			st.msg.say(slog.LevelInfo, "metrics on "+url, "url", url)
		}
	}
	watch := diskWatch{warn: int64(st.o.diskWarn), floor: int64(st.o.diskFloor), root: st.o.out, msg: st.msg}
	if st.sink.arch != nil {
		watch.pause = st.sink.arch.Pause
	}
	var advErr error
	err := st.eng.Feed(st.ctx, src, &st.dec, func(packets int64) {
		watch.check()
		st.prog.update(st.eng.Conns())
		es := st.eng.Stats()
		sensor.Packets.Store(packets)
		sensor.Conns.Store(int64(st.eng.Conns()))
		sensor.ADUs.Store(int64(es.Records[ingest.KindADU] + es.Records[ingest.KindINC]))
		if d, err := src.Drops(); err == nil {
			sensor.Drops.Store(int64(d))
		}
		if d, err := src.IfaceDrops(); err == nil {
			sensor.IfaceDrops.Store(int64(d))
		}
		st.prog.status(func(elapsed time.Duration) string { return statusLine(in.Name, sensor, elapsed) })
		if now, ok := st.eng.Now(); ok && advErr == nil {
			// On a quiet link the clock is the wall clock of the empty
			// polls: hours close when they end.
			advErr = st.advance(now)
		}
	})
	ls, serr := src.Stats()
	st.liveStats = ls
	in.Packets, in.Bytes = int64(ls.Packets), int64(ls.Bytes)
	st.inputs = append(st.inputs, in)
	if errors.Is(err, context.Canceled) {
		err, st.stopped = nil, true
	}
	return errors.Join(err, advErr, serr)
}

// Defaults of --disk-warn and --disk-floor.
const (
	defaultDiskWarn  = 10 << 30
	defaultDiskFloor = 1 << 30
)

// diskWatch watches the free space of the archive's file system at each
// progress point of a live run: below warn it says so once; below floor
// it pauses the archive (no new hour opens: their rows are shed and
// counted; the open hours are still published) until the space is back
// above the floor by an eighth.
type diskWatch struct {
	warn, floor int64
	root        string
	msg         *messages
	pause       func(bool) // nil: not archiving
	warned      bool
	paused      bool
}

func (d *diskWatch) check() {
	if d.pause == nil || (d.warn == 0 && d.floor == 0) {
		return
	}
	var st unix.Statfs_t
	if unix.Statfs(d.root, &st) != nil {
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	switch {
	case d.floor > 0 && !d.paused && free < d.floor:
		d.paused = true
		d.pause(true)
		d.msg.say(slog.LevelWarn, fmt.Sprintf("archive disk %s: %s free, below --disk-floor %s: no new hour is opened (their rows are shed and counted) until there is more",
			d.root, sizeString(free), sizeString(d.floor)), "free_bytes", free, "floor_bytes", d.floor)
	case d.paused && free >= d.floor+d.floor/8:
		d.paused = false
		d.pause(false)
		d.msg.say(slog.LevelInfo, fmt.Sprintf("archive disk %s: %s free again: new hours are opened", d.root, sizeString(free)),
			"free_bytes", free)
	}
	switch {
	case d.warn > 0 && !d.warned && free < d.warn:
		d.warned = true
		d.msg.say(slog.LevelWarn, fmt.Sprintf("archive disk %s: %s free, below --disk-warn %s", d.root, sizeString(free), sizeString(d.warn)),
			"free_bytes", free, "warn_bytes", d.warn)
	case d.warned && free >= d.warn+d.warn/8:
		d.warned = false
	}
}

// sizeString prints n bytes as --memory-budget's sizes read.
func sizeString(n int64) string {
	b := byteSize(n)
	return b.String()
}

// statusLine is a live run's status line on a terminal: packets and their
// rate, drops, connections, ADUs, and files published when archiving.
func statusLine(name string, s *metrics.Sensor, elapsed time.Duration) string {
	pk := s.Packets.Load()
	line := fmt.Sprintf("%s: %d packets (%.0f/s), %d dropped, %d connections, %d ADUs", name, pk,
		float64(pk)/max(elapsed.Seconds(), 1e-9), s.Drops.Load(), s.Conns.Load(), s.ADUs.Load())
	if s.Published != nil {
		files, _ := s.Published()
		line += fmt.Sprintf(", %d files published", files)
	}
	return line
}
