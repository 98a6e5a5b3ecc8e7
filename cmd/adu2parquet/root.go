package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/ingest"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks a bad flag or argument (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// options are the parsed command line.
type options struct {
	format       string
	quietTime    time.Duration
	hold         time.Duration
	idle         time.Duration
	handshake    time.Duration
	maxConns     int
	localNets    []string
	inboundOnly  bool
	trackPartial bool
	quiet        bool
	inputs       []string
}

// run is the whole program; main only calls os.Exit with its result.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runErr error
	cmd := newRootCmd(func(o *options) error {
		runErr = ingestMain(ctx, o, stdin, stdout, stderr)
		return runErr
	})
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "adu2parquet: %v\n", err)
	var ue *usageError
	switch {
	case errors.As(err, &ue) || runErr == nil:
		// cobra's own flag and argument errors never reach runErr.
		fmt.Fprintln(stderr, "Run 'adu2parquet --help' for usage.")
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}

func newRootCmd(runF func(*options) error) *cobra.Command {
	o := &options{}
	def := ingest.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "adu2parquet [flags] <input>...",
		Short: "Infer a-b-t connection vectors from TCP/IP headers",
		Long: strings.TrimSpace(`
adu2parquet reads packet captures and infers, for every TCP connection, its
application-level dialog: the sizes of the application data units (ADUs) each
side sent and the think times between them (the server's think time is its
response time). Only TCP/IP headers are used; payloads are never read.

Inputs are pcap (microsecond or nanosecond, either byte order), pcapng and
Endace ERF files, plain or gzip/zstd-compressed (detected from the content),
or "-" for standard input. Several inputs are read in the order given as one
continuous capture. Records go to standard output; progress and the run's
summary go to standard error.

With --format adudump the records are written as adudump text, the format
of Table 2 of the adudump paper (SYN, RTT, SEQ, CONC, ADU, INC, END lines).
Without --local-net the server is printed first and '<' marks the
client-to-server direction. With --format jsonl every record is a JSON
object with all its fields; END records carry the connection's summary
(SYN attempts, RTT legs, MSS, window scale, packets, bytes and
retransmissions per direction, why it ended). See docs/inference.md.

Exit status: 0 on success, 1 when an input is malformed or unreadable (the
records inferred before the fault are still written), 2 on a usage error,
130 when interrupted.`),
		Example: strings.TrimSpace(`
  # Infer the a-b-t records of a capture as adudump text
  $ adu2parquet --format adudump trace.pcap.gz > trace.adu

  # Keep only connections entering the campus, as the UNC data set did
  $ adu2parquet --format adudump --local-net 152.2.0.0/16 --inbound-only day1.erf

  # Read a capture from standard input with a 1 s quiet time
  $ tcpdump -w - -i eth0 tcp | adu2parquet --format adudump --quiet-time 1s -`),
		Args:          cobra.MinimumNArgs(1),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.inputs = args
			if o.format != "adudump" && o.format != "jsonl" {
				return &usageError{fmt.Errorf("--format %q: must be adudump or jsonl (the Parquet archive is not available yet)", o.format)}
			}
			return runF(o)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "adudump", "output format: {adudump|jsonl}")
	f.DurationVar(&o.quietTime, "quiet-time", def.QuietTime, "split an ADU when its sender is silent for longer than this")
	f.DurationVar(&o.hold, "hold", def.Hold, "how long a decided ADU may wait for later segments to revise it (0: decide at once)")
	f.DurationVar(&o.idle, "idle-timeout", def.IdleTimeout, "end an established connection idle this long")
	f.DurationVar(&o.handshake, "handshake-timeout", def.HandshakeTimeout, "end a connection whose handshake is incomplete after this long idle")
	f.IntVar(&o.maxConns, "max-conns", def.MaxConns, "connection table cap; the longest-idle entries are shed beyond it")
	f.StringArrayVar(&o.localNets, "local-net", nil, "a local network `CIDR` (repeatable); labels connections in/out/local/external")
	f.BoolVar(&o.inboundOnly, "inbound-only", false, "keep only connections whose SYN enters the local networks")
	f.BoolVar(&o.trackPartial, "track-partial", false, "track connections whose handshake was not seen (default: skip and count them)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress or summary on standard error")
	return cmd
}

// engineOptions validates the flags into ingest.Options.
func (o *options) engineOptions() (ingest.Options, error) {
	eo := ingest.DefaultOptions()
	eo.QuietTime = o.quietTime
	eo.Hold = o.hold
	eo.IdleTimeout = o.idle
	eo.HandshakeTimeout = o.handshake
	eo.MaxConns = o.maxConns
	eo.InboundOnly = o.inboundOnly
	eo.TrackPartial = o.trackPartial
	for _, s := range o.localNets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return eo, &usageError{fmt.Errorf("--local-net %q: not a CIDR prefix or address", s)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		eo.LocalNets = append(eo.LocalNets, p)
	}
	if err := eo.Validate(); err != nil {
		return eo, &usageError{err}
	}
	return eo, nil
}
