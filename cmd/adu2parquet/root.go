package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
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

// flagError is every command's flag error function: the error in plain
// words (which flag, what it takes), as a usage error.
func flagError(_ *cobra.Command, err error) error { return &usageError{cli.FlagError(err)} }

// options are the parsed command line of the ingest command.
type options struct {
	format        string
	out           string
	sensor        string
	replace       bool
	grace         time.Duration
	rowGroupRows  int64
	quietTime     time.Duration
	hold          time.Duration
	idle          time.Duration
	handshake     time.Duration
	maxConns      int
	memoryBudget  cli.ByteSize
	workers       int
	localNets     []string
	inboundOnly   bool
	trackPartial  bool
	skipMalformed bool
	rollup        bool
	quiet         bool
	cpuProfile    string
	traceFile     string
	memProfile    string
	inputs        []string

	// adu2parquet live
	ifaces              []string
	snapLen             int
	ring                cli.ByteSize
	fanout              int
	metrics             string
	logFormat           string
	filter              string
	diskWarn, diskFloor cli.ByteSize
}

// maintFlags are the flags of the commands that maintain an archive
// (compact, rollup).
type maintFlags struct {
	out      string
	sensor   string
	from, to string
	quiet    bool
}

// add defines the flags; unit names what --from/--to select ("hours" or
// "days").
func (m *maintFlags) add(f *pflag.FlagSet, unit string) {
	f.StringVarP(&m.out, "out", "o", "archive", "archive `directory`")
	f.StringVar(&m.sensor, "sensor", "", "only this sensor's "+unit)
	f.StringVar(&m.from, "from", "", "only "+unit+" from this time (RFC 3339 or YYYY-MM-DD, UTC)")
	f.StringVar(&m.to, "to", "", "only "+unit+" before this time")
	f.BoolVarP(&m.quiet, "quiet", "q", false, "no summary on standard error")
}

// timeRange parses --from/--to; a zero time is unbounded.
func (m *maintFlags) timeRange() (from, to time.Time, err error) {
	if m.from != "" {
		if from, err = parseTime("from", m.from); err != nil {
			return from, to, err
		}
	}
	if m.to != "" {
		to, err = parseTime("to", m.to)
	}
	return from, to, err
}

// checkArchive makes sure that root is an archive before a maintenance
// command works on it: a mistyped --out is an error naming it, not an
// empty archive ("rollups of 0 day(s)", which compact would even create).
// An archive has its bookkeeping directory or a table (one merged from
// other monitors may have tables only: docs/scaling.md).
func checkArchive(root string) error {
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("archive %s: no such directory", root)
	case err != nil:
		return fmt.Errorf("archive %s: %w", root, err)
	case !st.IsDir():
		return fmt.Errorf("archive %s: not a directory", root)
	}
	names := append([]string{catalog.MetaDir}, schema.Tables...)
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(root, name)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("archive %s: not an archive (it has none of %s)", root, strings.Join(names, ", "))
}

// compactOptions are the parsed command line of the compact command.
type compactOptions struct {
	maintFlags
	rollup   bool
	reencode bool
}

// run is the whole program; main only calls os.Exit with its result.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runErr error
	cmd := newRootCmd(func(o *options) error {
		runErr = ingestMain(ctx, o, stdin, stdout, stderr)
		return runErr
	}, func(o *compactOptions) error {
		runErr = compactMain(ctx, o, stdout, stderr)
		return runErr
	}, func(o *rollupOptions) error {
		runErr = rollupMain(ctx, o, stderr)
		return runErr
	}, func(o *verifyOptions) error {
		runErr = verifyMain(ctx, o, stdout)
		return runErr
	}, func(o *migrateOptions) error {
		runErr = migrateMain(ctx, o, stdout, stderr)
		return runErr
	})
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	failed, err := cmd.ExecuteC()
	if err == nil {
		return exitOK
	}
	if le := (*loggedError)(nil); !errors.As(err, &le) {
		fmt.Fprintf(stderr, "adu2parquet: %v\n", err)
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue) || runErr == nil:
		// cobra's own flag and argument errors never reach runErr.
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", failed.CommandPath())
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}

func newRootCmd(runF func(*options) error, compactF func(*compactOptions) error, rollupF func(*rollupOptions) error,
	verifyF func(*verifyOptions) error, migrateF func(*migrateOptions) error) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "adu2parquet [flags] <input>...",
		Short: "Infer a-b-t connection vectors from TCP/IP headers into a Parquet archive",
		Long: strings.TrimSpace(`
adu2parquet reads packet captures and infers, for every TCP connection, its
application-level dialog: the sizes of the application data units (ADUs) each
side sent and the think times between them (the server's think time is its
response time). Only TCP/IP headers are used; payloads are never read.

Inputs are pcap (microsecond or nanosecond, either byte order), pcapng and
Endace ERF files, or existing adudump text logs (both dialects); plain or
gzip/zstd-compressed (detected from the content); "-" is standard input.
Several inputs are read in the order given as one continuous capture. All
inputs of one run are captures, or all are logs.

By default (--format parquet) the records go into the archive in --out: the
adus, connections and runs tables as hourly, zstd-compressed Parquet files
under <out>/<table>/sensor=<sensor>/date=YYYY-MM-DD/hour=H/, published
atomically as packet time passes each hour. An input archived before is
refused (say --replace to archive it again). See docs/schema.md.

With --format adudump the records go to standard output as adudump text,
the format of Table 2 of the adudump paper (the server first; '<' is
client to server); with --format jsonl as JSON objects with every field.

Memory: the connection state (table entries, ADUs held for --hold, records
waiting to be written in time order) is kept within --memory-budget by the
engine's own account; beyond it the cheapest entries are shed first (closed
connections' keys, untracked ones, half-open connections, then held ADUs
are decided early, and only then established connections are evicted),
each counted in the summary and the runs table. Go's garbage collector is
asked to keep the process within 1.5 times the budget plus 64 MiB (at least
256 MiB with the archive) unless GOMEMLIMIT is set.

Progress and the run's summary go to standard error. Exit status: 0 on
success, 1 when an input is malformed or unreadable (what was inferred
before the fault is still written) or the archive cannot be written, 2 on a
usage error, 130 when interrupted (after publishing what was read).`),
		Example: cli.Example(`
  # Archive a day of captures from this monitor into ./archive
  $ adu2parquet trace-*.pcap.gz

  # Archive into a shared directory under an explicit sensor name
  $ adu2parquet --out /data/abt --sensor campus-edge day1.erf

  # Convert an adudump text log (the UNC data set format) into the archive
  $ adu2parquet --out /data/abt --sensor unc2008 unc-2008-04-18.adu.gz

  # a-b-t records as adudump text, only connections entering the campus
  $ adu2parquet --format adudump --local-net 152.2.0.0/16 --inbound-only day1.pcap

  # A small sensor: at most 64 MiB of connection state
  $ adu2parquet --memory-budget 64MiB --out /data/abt live-*.pcap

  # The inference on 8 workers (default: one per core but one); the same records
  # as with 1
  $ adu2parquet --workers 8 --out /data/abt day1.pcap

  # Merge each hour's small part files into one
  $ adu2parquet compact --out /data/abt

  # Build the daily rollups of an archive written without them
  $ adu2parquet rollup --out /data/abt

  # Check every file of the archive (footers, pages, row counts)
  $ adu2parquet verify --out /data/abt`),
		Args:          cobra.MinimumNArgs(1),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.inputs = args
			if err := o.checkFormat(cmd.Flags()); err != nil {
				return err
			}
			return runF(o)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	cli.SetVersion(cmd)
	o.addFlags(cmd.Flags(), true)
	lo := &options{}
	cmd.AddCommand(newLiveCmd(lo, runF), newCompactCmd(compactF), newRollupCmd(rollupF), newVerifyCmd(verifyF), newMigrateCmd(migrateF),
		cli.VersionCmd("adu2parquet"))
	return cmd
}

// checkFormat checks --format and that the archive's flags come with it.
func (o *options) checkFormat(f *pflag.FlagSet) error {
	switch o.format {
	case "parquet", "adudump", "jsonl":
	default:
		return &usageError{fmt.Errorf("--format %q: must be parquet, adudump or jsonl", o.format)}
	}
	if o.format != "parquet" {
		for _, name := range []string{"out", "sensor", "replace", "grace", "rollup"} {
			if fl := f.Lookup(name); fl != nil && fl.Changed {
				return &usageError{fmt.Errorf("--%s applies to --format parquet only", name)}
			}
		}
	}
	return nil
}

// addFlags defines the flags of a run (the root command's, and live's but
// for the ones of files: replace is for inputs archived before,
// skip-malformed for logs).
func (o *options) addFlags(f *pflag.FlagSet, files bool) {
	def := ingest.DefaultOptions()
	f.StringVar(&o.format, "format", "parquet", "output: {parquet|adudump|jsonl}")
	f.StringVarP(&o.out, "out", "o", "archive", "archive `directory` (with --format parquet)")
	f.StringVar(&o.sensor, "sensor", "", "sensor (monitor) name in the archive's paths (default: the host name)")
	if files {
		f.BoolVar(&o.replace, "replace", false, "archive inputs again that an earlier run archived, replacing that run")
		f.BoolVar(&o.skipMalformed, "skip-malformed", false, "in adudump text logs, skip and count malformed lines instead of stopping")
	}
	f.DurationVar(&o.grace, "grace", 5*time.Minute, "publish an hour once packet time is this far past its end; later rows go to a new part")
	f.Int64Var(&o.rowGroupRows, "row-group-rows", partition.DefaultRowGroupRows, "Parquet row group size in rows")
	_ = f.MarkHidden("row-group-rows")
	f.DurationVar(&o.quietTime, "quiet-time", def.QuietTime, "split an ADU when its sender is silent for longer than this")
	f.DurationVar(&o.hold, "hold", def.Hold, "how long a decided ADU may wait for later segments to revise it (0: decide at once)")
	f.DurationVar(&o.idle, "idle-timeout", def.IdleTimeout, "end an established connection idle this long")
	f.DurationVar(&o.handshake, "handshake-timeout", def.HandshakeTimeout, "end a connection whose handshake is incomplete after this long idle")
	f.IntVar(&o.maxConns, "max-conns", def.MaxConns, "most entries in the connection table; the cheapest, longest-idle ones are shed beyond it")
	o.memoryBudget = cli.ByteSize(def.MemoryBudget)
	f.Var(&o.memoryBudget, "memory-budget",
		"memory for connection state (table, held and queued records; 0: none); the cheapest entries are shed beyond it")
	f.IntVar(&o.workers, "workers", defaultWorkers(),
		"inference workers, connections shared among them by a hash of their endpoints (the output is the same for every number)")
	f.StringArrayVar(&o.localNets, "local-net", nil, "a local network `CIDR` (repeatable); labels connections in/out/local/external")
	f.BoolVar(&o.inboundOnly, "inbound-only", false, "keep only connections whose SYN enters the local networks")
	f.BoolVar(&o.trackPartial, "track-partial", false, "track connections whose handshake was not seen (default: skip and count them)")
	f.BoolVar(&o.rollup, "rollup", true, "update the daily rollups of the days the run wrote (see 'adu2parquet rollup')")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress or summary on standard error")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the run to this `file`")
	f.StringVar(&o.memProfile, "memprofile", "", "write a pprof allocation profile of the run to this `file`")
	f.StringVar(&o.traceFile, "trace", "", "write a Go execution trace of the run to this `file`")
	_ = f.MarkHidden("trace")
	_ = f.MarkHidden("cpuprofile")
	_ = f.MarkHidden("memprofile")
}

func newCompactCmd(runF func(*compactOptions) error) *cobra.Command {
	o := &compactOptions{}
	cmd := newMaintCmd("compact", "Merge each hour's part files into one", `
compact merges the part files of each hour of the archive (a run's main part,
its late parts, parts of other runs) into a single sorted file per hour and
table. The merged hour is swapped in atomically: a reader sees the old parts
or the merged file, never both. Hours a running adu2parquet is still
publishing into are skipped; compact is safe to run while ingest goes on.

With --reencode, hours of a single part are rewritten too when that part was
written with the encodings older readers refuse (Parquet version 2 pages,
DELTA encodings: files written before the archive changed to version 1
pages and PLAIN/dictionary encodings), so that older Spark and Iceberg
readers read the whole archive (docs/scaling.md).`, `
  # Compact the whole archive
  $ adu2parquet compact --out /data/abt

  # Compact, and rewrite every hour still in the older encodings
  $ adu2parquet compact --out /data/abt --reencode

  # Compact one day of one sensor
  $ adu2parquet compact --out /data/abt --sensor campus-edge --from 2008-04-18 --to 2008-04-19`,
		&o.maintFlags, "hours", func() error { return runF(o) })
	cmd.Flags().BoolVar(&o.rollup, "rollup", true, "update the daily rollups of the compacted days")
	cmd.Flags().BoolVar(&o.reencode, "reencode", false, "also rewrite hours of one part written with older encodings (version 2 pages, DELTA)")
	return cmd
}

// newMaintCmd returns an archive maintenance command with the flags of m
// (--from/--to selecting unit, "hours" or "days").
func newMaintCmd(name, short, long, example string, m *maintFlags, unit string, run func() error) *cobra.Command {
	cmd := &cobra.Command{
		Use:           name + " [flags]",
		Short:         short,
		Long:          strings.TrimSpace(long),
		Example:       cli.Example(example),
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          func(*cobra.Command, []string) error { return run() },
	}
	cmd.SetFlagErrorFunc(flagError)
	m.add(cmd.Flags(), unit)
	return cmd
}

// engineOptions validates the flags into ingest.Options. Each flag is
// checked here, so that the error names it; ingest.Options.Validate, which
// names fields, only backs them up.
func (o *options) engineOptions() (ingest.Options, error) {
	eo := ingest.DefaultOptions()
	if err := o.checkEngineFlags(); err != nil {
		return eo, err
	}
	eo.QuietTime = o.quietTime
	eo.Hold = o.hold
	eo.IdleTimeout = o.idle
	eo.HandshakeTimeout = o.handshake
	eo.MaxConns = o.maxConns
	eo.MemoryBudget = int64(o.memoryBudget)
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

// checkEngineFlags checks the values of the engine's flags.
func (o *options) checkEngineFlags() error {
	for _, d := range []struct {
		flag   string
		v      time.Duration
		zeroOK bool
	}{
		{"quiet-time", o.quietTime, false},
		{"hold", o.hold, true},
		{"idle-timeout", o.idle, false},
		{"handshake-timeout", o.handshake, false},
	} {
		switch {
		case d.zeroOK && d.v < 0:
			return &usageError{fmt.Errorf("--%s %q: must be 0 or a positive duration", d.flag, d.v.String())}
		case !d.zeroOK && d.v <= 0:
			return &usageError{fmt.Errorf("--%s %q: must be a positive duration", d.flag, d.v.String())}
		}
	}
	if o.maxConns < 1 {
		return &usageError{fmt.Errorf("--max-conns \"%d\": must be at least 1", o.maxConns)}
	}
	if o.workers < 1 || o.workers > ingest.MaxWorkers {
		return &usageError{fmt.Errorf("--workers \"%d\": must be 1 to %d", o.workers, ingest.MaxWorkers)}
	}
	if b := int64(o.memoryBudget); b != 0 && b < ingest.MinMemoryBudget {
		min := cli.ByteSize(ingest.MinMemoryBudget)
		return &usageError{fmt.Errorf("--memory-budget %q: must be 0 (none) or at least %v", o.memoryBudget.String(), &min)}
	}
	if o.inboundOnly && len(o.localNets) == 0 {
		return &usageError{errors.New("--inbound-only needs at least one --local-net")}
	}
	return nil
}

// parseTime parses an RFC 3339 time or a YYYY-MM-DD date (UTC).
func parseTime(flag, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &usageError{fmt.Errorf("--%s %q: not an RFC 3339 time or YYYY-MM-DD date", flag, s)}
}

// defaultWorkers is --workers' default: one per core the Go runtime uses
// but one, which the reader, the merge of the workers' records and the
// writer share (docs/performance.md, "Line rate": on two cores one worker
// is as fast as two, and faster on a time-ordered capture).
func defaultWorkers() int { return min(max(runtime.GOMAXPROCS(0)-1, 1), ingest.MaxWorkers) }
