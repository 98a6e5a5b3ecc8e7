package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/validate"
)

// FlagError is a usage error: the usage hint follows it and the exit
// status is 2.
type FlagError struct{ Err error }

// Error returns the message.
func (e *FlagError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *FlagError) Unwrap() error { return e.Err }

// run is the whole program; main only calls os.Exit with its result.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	failed, err := root.ExecuteContextC(ctx)
	var fe *FlagError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &fe), strings.HasPrefix(err.Error(), "unknown command"), strings.Contains(err.Error(), "accepts "):
		fmt.Fprintln(stderr, "abtsynth:", err)
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", failed.CommandPath())
		return 2
	case ctx.Err() != nil:
		var ie *cli.Interrupted
		if !errors.As(err, &ie) {
			if !errors.Is(err, context.Canceled) {
				fmt.Fprintln(stderr, "abtsynth:", err) // a failure besides
			}
			ie = &cli.Interrupted{Err: err}
		}
		fmt.Fprintln(stderr, "abtsynth:", ie)
		return 130
	}
	fmt.Fprintln(stderr, "abtsynth:", err)
	return 1
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "abtsynth <command> [flags]",
		Short: "Synthetic applications and ground-truth comparison for abt",
		Long: strings.TrimSpace(`
abtsynth checks adu2parquet's inference against ground truth. client and
server play synthetic applications over real TCP connections: each
connection follows a plan drawn from --seed (the same on both sides), and
each side logs, as a JSON line per connection, the ADUs it sent and when.
forward bridges two interfaces, dropping and delaying TCP frames, so that
the capture between them sees loss and retransmissions. report infers the
a-b-t vectors of each capture and compares them with the logs.

scripts/validate.sh runs them in network namespaces (make validate); see
docs/validation.md. Exit status: 0 on success, 1 on failure, 2 on a usage
error, 130 when interrupted (server and forward run until interrupted, and
then exit 0).`),
		Example: cli.Example(`
  # A server and 100 clients over the loopback interface
  $ abtsynth server --listen 127.0.0.1:9000 --log server.jsonl &
  $ abtsynth client --server 127.0.0.1:9000 --local 127.0.0.1 --conns 100 --log client.jsonl`),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{cli.FlagError(err)} })
	cli.SetVersion(root)
	root.AddCommand(newClient(), newServer(), newForward(), newReport(), cli.VersionCmd("abtsynth"))
	return root
}

func addParams(fs *pflag.FlagSet, p *validate.Params) {
	*p = validate.DefaultParams()
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "seed of the plans (the same on client and server)")
	fs.StringVar((*string)(&p.Mode), "mode", string(p.Mode), "dialog mode: {seq|conc|mix|pipe}")
	fs.Var(&p.ADUs, "adus", "ADUs per connection (seq) or per direction (conc)")
	fs.Var(&p.Size, "size", "ADU size in bytes (uniform; with --heavy, Pareto scale:cap)")
	fs.BoolVar(&p.Heavy, "heavy", false, "heavy-tailed (Pareto) ADU sizes")
	fs.Float64Var(&p.Alpha, "alpha", p.Alpha, "Pareto shape for --heavy")
	fs.Var(&p.Think, "think", "think time before each sequential ADU (durations)")
	fs.Var(&p.Gap, "gap", "pause before each concurrent ADU of a direction (durations)")
	fs.Var(&p.WriteSize, "write-size", "bytes per socket write")
	fs.Var(&p.WriteDelay, "write-delay", "pause between the writes of one ADU (durations)")
	fs.Float64Var(&p.RSTFrac, "rst", p.RSTFrac, "fraction of connections aborted with a RST")
	fs.Float64Var(&p.EmptyFrac, "empty", p.EmptyFrac, "fraction of connections that send nothing")
}

// checkParams checks the plan flags, naming them (validate.Params.Validate,
// which names fields, backs the checks up).
func checkParams(p *validate.Params) error {
	switch {
	case p.Mode != validate.ModeSeq && p.Mode != validate.ModeConc && p.Mode != validate.ModeMix && p.Mode != validate.ModePipe:
		return &FlagError{fmt.Errorf("--mode %q: must be seq, conc, mix or pipe", p.Mode)}
	case p.Size.Min < 1:
		return &FlagError{fmt.Errorf("--size %q: must be at least 1 byte", p.Size.String())}
	case p.WriteSize.Min < 1:
		return &FlagError{fmt.Errorf("--write-size %q: must be at least 1 byte", p.WriteSize.String())}
	case p.Heavy && p.Alpha <= 0:
		return &FlagError{fmt.Errorf("--alpha %g: must be positive with --heavy", p.Alpha)}
	case p.RSTFrac < 0 || p.RSTFrac > 1:
		return &FlagError{fmt.Errorf("--rst %g: must be between 0 and 1", p.RSTFrac)}
	case p.EmptyFrac < 0 || p.EmptyFrac > 1:
		return &FlagError{fmt.Errorf("--empty %g: must be between 0 and 1", p.EmptyFrac)}
	case p.RSTFrac+p.EmptyFrac > 1:
		return &FlagError{errors.New("--rst and --empty must sum to at most 1")}
	}
	if err := p.Validate(); err != nil {
		return &FlagError{err}
	}
	return nil
}

func openLog(path string) (*logger, func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("create log: %w", err)
	}
	bw := bufio.NewWriter(f)
	lg := &logger{enc: json.NewEncoder(bw)}
	return lg, func() error {
		return errors.Join(lg.err, bw.Flush(), f.Close())
	}, nil
}

func newClient() *cobra.Command {
	var (
		prm            validate.Params
		servers        []string
		local          []string
		conns, par     int
		portBase       int
		logPath        string
		connectTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "client [flags]",
		Short: "Open connections and play the client side of their plans",
		Long: "client opens --conns connections, --parallel at a time, connection i from\n" +
			"local port --port-base+i to the i-th server (round robin over --server), and\n" +
			"logs every connection as a JSON line to --log. Interrupted, it starts no\n" +
			"more connections and logs those under way as they end.",
		Example: cli.Example(`
  # 200 sequential connections, 50 at a time, over IPv4 and IPv6
  $ abtsynth client --server 10.77.0.2:9000 --local 10.77.0.1 --server '[fd77::2]:9000' --local fd77::1 --conns 200 --parallel 50 --mode seq --seed 11 --log client.jsonl`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkParams(&prm); err != nil {
				return err
			}
			if len(servers) == 0 || len(servers) != len(local) {
				return &FlagError{errors.New("give as many --local addresses as --server addresses")}
			}
			if portBase+conns > 65535 || portBase < 1024 {
				return &FlagError{errors.New("--port-base out of range")}
			}
			lg, closeLog, err := openLog(logPath)
			if err != nil {
				return err
			}
			sem := make(chan struct{}, par)
			var wg sync.WaitGroup
			for i := range conns {
				select {
				case sem <- struct{}{}:
				case <-cmd.Context().Done():
				}
				if cmd.Context().Err() != nil {
					break
				}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					ctx, cancel := context.WithTimeout(cmd.Context(), connectTimeout)
					defer cancel()
					k := i % len(servers)
					runClient(ctx, &prm, local[k], servers[k], uint16(portBase+i), lg)
				}()
			}
			wg.Wait()
			if err := closeLog(); err != nil || cmd.Context().Err() == nil {
				return err
			}
			return &cli.Interrupted{Err: cmd.Context().Err(), Kept: logPath + " holds the connections started before it"}
		},
	}
	addParams(cmd.Flags(), &prm)
	cmd.Flags().StringArrayVar(&servers, "server", nil, "server address host:port (repeatable)")
	cmd.Flags().StringArrayVar(&local, "local", nil, "local address for the matching --server")
	cmd.Flags().IntVar(&conns, "conns", 10, "number of connections")
	cmd.Flags().IntVar(&par, "parallel", 20, "connections at a time")
	cmd.Flags().IntVar(&portBase, "port-base", 20000, "local port of connection 0")
	cmd.Flags().StringVar(&logPath, "log", "client.jsonl", "ground-truth log `file`")
	cmd.Flags().DurationVar(&connectTimeout, "connect-timeout", 30*time.Second, "time limit to establish a connection")
	return cmd
}

func newServer() *cobra.Command {
	var (
		prm     validate.Params
		listen  []string
		logPath string
	)
	cmd := &cobra.Command{
		Use:   "server [flags]",
		Short: "Accept connections and play the server side of their plans",
		Long: "server listens on every --listen address until interrupted (then it exits 0),\n" +
			"and logs every connection as a JSON line to --log.",
		Example: cli.Example(`
  # Serve the sequential plans of seed 11 over IPv4 and IPv6
  $ abtsynth server --listen 10.77.0.2:9000 --listen '[fd77::2]:9000' --mode seq --seed 11 --log server.jsonl`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkParams(&prm); err != nil {
				return err
			}
			lg, closeLog, err := openLog(logPath)
			if err != nil {
				return err
			}
			var lns []net.Listener
			for _, a := range listen {
				ln, err := net.Listen("tcp", a)
				if err != nil {
					return errors.Join(fmt.Errorf("listen %s: %w", a, err), closeLog())
				}
				lns = append(lns, ln)
			}
			var wg sync.WaitGroup
			for _, ln := range lns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						wg.Add(1)
						go func() { defer wg.Done(); serve(&prm, c, lg) }()
					}
				}()
			}
			<-cmd.Context().Done()
			var cerr error
			for _, ln := range lns {
				cerr = errors.Join(cerr, ln.Close())
			}
			wg.Wait()
			// An interrupt is how the server is told to stop: not an error.
			return errors.Join(cerr, closeLog())
		},
	}
	addParams(cmd.Flags(), &prm)
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "address host:port to listen on (repeatable)")
	cmd.Flags().StringVar(&logPath, "log", "server.jsonl", "ground-truth log `file`")
	return cmd
}

func newForward() *cobra.Command {
	var (
		a, b  string
		loss  float64
		delay time.Duration
		seed  uint64
	)
	cmd := &cobra.Command{
		Use:   "forward --a <if> --b <if> [flags]",
		Short: "Bridge two interfaces, dropping and delaying TCP frames",
		Long: "forward reads every frame from each interface through an AF_PACKET socket and,\n" +
			"unless it is a TCP frame drawn for loss (probability --loss), writes it to the\n" +
			"other interface --delay later. It runs until interrupted (then it exits 0);\n" +
			"its counters go to standard error. Needs CAP_NET_RAW.",
		Example: cli.Example(`
  # 1 % loss and 5 ms more delay each way between m0 and m1
  $ abtsynth forward --a m0 --b m1 --loss 0.01 --delay 5ms --seed 7`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a == "" || b == "" || loss < 0 || loss > 1 {
				return &FlagError{errors.New("need --a, --b and 0 <= --loss <= 1")}
			}
			return forward(cmd.Context(), a, b, loss, delay, seed, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&a, "a", "", "first `interface`")
	cmd.Flags().StringVar(&b, "b", "", "second `interface`")
	cmd.Flags().Float64Var(&loss, "loss", 0, "drop probability of each TCP frame, each direction")
	cmd.Flags().DurationVar(&delay, "delay", 0, "one-way delay added to each frame")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the drops")
	return cmd
}

func newReport() *cobra.Command {
	var (
		out, plots, rel, command string
		scen                     []string
	)
	cmd := &cobra.Command{
		Use:   "report --scenario <name=dir> ... [flags]",
		Short: "Compare captures with ground truth and write the report",
		Long: "report reads each --scenario, a directory holding capture.pcap (or\n" +
			".pcap.gz), client.jsonl and server.jsonl, and writes a Markdown report to\n" +
			"--out and PNG plots to --plots.",
		Example: cli.Example(`
  # The report of two scenarios, as scripts/validate.sh writes it
  $ abtsynth report --scenario seq-loss=testdata/validation/seq-loss --scenario conc=testdata/validation/conc --out docs/validation.md --plots testdata/validation/plots --plots-rel ../testdata/validation/plots`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(scen) == 0 {
				return &FlagError{errors.New("no --scenario")}
			}
			var ss []validate.Scenario
			for _, s := range scen {
				name, dir, ok := strings.Cut(s, "=")
				if !ok {
					return &FlagError{fmt.Errorf("scenario %q: want name=dir", s)}
				}
				r, err := validate.RunDir(cmd.Context(), dir, ingest.DefaultOptions())
				if errors.Is(err, context.Canceled) {
					return &cli.Interrupted{Err: err, Kept: out + " not written"}
				}
				if err != nil {
					return err
				}
				ss = append(ss, validate.Scenario{Name: name, Dir: dir, Result: r})
			}
			f, err := os.Create(out)
			if err != nil {
				return fmt.Errorf("create report: %w", err)
			}
			err = validate.WriteReport(f, ss, plots, rel, command)
			return errors.Join(err, f.Close())
		},
	}
	cmd.Flags().StringArrayVar(&scen, "scenario", nil, "scenario name=dir (repeatable)")
	cmd.Flags().StringVar(&out, "out", "validation.md", "Markdown report `file`")
	cmd.Flags().StringVar(&plots, "plots", ".", "`directory` for the PNG plots")
	cmd.Flags().StringVar(&rel, "plots-rel", "", "path of --plots as the report links it")
	cmd.Flags().StringVar(&command, "command", "", "command line quoted in the report")
	return cmd
}
