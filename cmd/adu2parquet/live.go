package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/metrics"
	"github.com/abt-dev/abt/internal/pipeline"
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
counts them (the summary, and the runs table: drops, by hour too, and
packets_dropped_kernel). --fanout N spreads the frames over N sockets by
flow, each with its share of --ring and a reader of its own, merged back in
time order (for a sensor with cores to spare).

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
			if o.fanout < 1 || o.fanout > live.MaxFanout {
				return &usageError{fmt.Errorf("--fanout: must be 1 to %d", live.MaxFanout)}
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
	f.IntVar(&o.fanout, "fanout", 1, "sockets the kernel spreads the frames over by flow, each with its share of --ring and a reader of its own")
	f.StringVar(&o.filter, "filter", "", "keep only the frames this `expression` matches, in the kernel (tcpdump's syntax, a subset: docs/operations.md)")
	o.ring = cli.ByteSize(live.DefaultRingBytes)
	f.Var(&o.ring, "ring", "size of the kernel's capture ring")
	f.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on this `host:port` (/metrics)")
	f.StringVar(&o.logFormat, "log-format", logPlain, "messages on standard error: {plain|text|json} (text and json: log/slog records)")
	o.diskWarn, o.diskFloor = pipeline.DefaultDiskWarn, pipeline.DefaultDiskFloor
	f.Var(&o.diskWarn, "disk-warn", "warn when the archive's file system has less free space than this (0: never)")
	f.Var(&o.diskFloor, "disk-floor", "below this much free space, open no new hour until there is more again (0: never)")
	o.addFlags(f, false)
	return cmd
}

// openLive opens the interfaces; a test puts a link of its own here (one
// whose clock it moves).
var openLive = func(ifaces []string, o live.Options) (pipeline.LinkSource, error) {
	s, err := live.Open(ifaces, o)
	if err != nil {
		return nil, err
	}
	return s, nil
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
