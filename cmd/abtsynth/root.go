package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/validate"
)

// FlagError is a usage error: usage is printed and the exit code is 2.
type FlagError struct{ Err error }

// Error returns the message.
func (e *FlagError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *FlagError) Unwrap() error { return e.Err }

func run(ctx context.Context, args []string) int {
	root := newRoot(ctx)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var fe *FlagError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &fe):
		fmt.Fprintln(os.Stderr, "abtsynth:", err)
		fmt.Fprint(os.Stderr, root.UsageString())
		return 2
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "abtsynth: interrupted")
		return 130
	}
	fmt.Fprintln(os.Stderr, "abtsynth:", err)
	return 1
}

func newRoot(ctx context.Context) *cobra.Command {
	root := &cobra.Command{
		Use:           "abtsynth <command> [flags]",
		Short:         "Synthetic applications and ground-truth comparison for abt",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{err} })
	root.AddCommand(newClient(), newServer(), newForward(), newReport())
	_ = ctx
	return root
}

func addParams(fs *pflag.FlagSet, p *validate.Params) {
	*p = validate.DefaultParams()
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "Seed of the plans (same on client and server)")
	fs.StringVar((*string)(&p.Mode), "mode", string(p.Mode), "Dialog mode: {seq|conc|mix}")
	fs.Var(&p.ADUs, "adus", "ADUs per connection (seq) or per direction (conc)")
	fs.Var(&p.Size, "size", "ADU size in bytes (uniform; with --heavy, Pareto scale:cap)")
	fs.BoolVar(&p.Heavy, "heavy", false, "Heavy-tailed (Pareto) ADU sizes")
	fs.Float64Var(&p.Alpha, "alpha", p.Alpha, "Pareto shape for --heavy")
	fs.Var(&p.Think, "think", "Think time before each sequential ADU (Go durations)")
	fs.Var(&p.Gap, "gap", "Pause before each concurrent ADU of a direction")
	fs.Var(&p.WriteSize, "write-size", "Bytes per socket write")
	fs.Var(&p.WriteDelay, "write-delay", "Pause between the writes of one ADU")
	fs.Float64Var(&p.RSTFrac, "rst", p.RSTFrac, "Fraction of connections aborted with a RST")
	fs.Float64Var(&p.EmptyFrac, "empty", p.EmptyFrac, "Fraction of connections that send nothing")
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
		Long: "Opens --conns connections, --parallel at a time, connection i from local port\n" +
			"--port-base+i to the i-th server (round robin over --server), and logs every\n" +
			"connection as a JSON line to --log.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prm.Validate(); err != nil {
				return &FlagError{err}
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
			return errors.Join(closeLog(), cmd.Context().Err())
		},
	}
	addParams(cmd.Flags(), &prm)
	cmd.Flags().StringArrayVar(&servers, "server", nil, "Server address host:port (repeatable)")
	cmd.Flags().StringArrayVar(&local, "local", nil, "Local address for the matching --server")
	cmd.Flags().IntVar(&conns, "conns", 10, "Number of connections")
	cmd.Flags().IntVar(&par, "parallel", 20, "Connections at a time")
	cmd.Flags().IntVar(&portBase, "port-base", 20000, "Local port of connection 0")
	cmd.Flags().StringVar(&logPath, "log", "client.jsonl", "Ground-truth log")
	cmd.Flags().DurationVar(&connectTimeout, "connect-timeout", 30*time.Second, "Time limit to establish a connection")
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
		Long:  "Listens on every --listen address until interrupted; logs every connection\nas a JSON line to --log.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prm.Validate(); err != nil {
				return &FlagError{err}
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
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "Address host:port to listen on (repeatable)")
	cmd.Flags().StringVar(&logPath, "log", "server.jsonl", "Ground-truth log")
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
		Long: "Reads every frame from each interface through an AF_PACKET socket and, unless\n" +
			"it is a TCP frame drawn for loss (probability --loss), writes it to the other\n" +
			"interface --delay later. Runs until interrupted; counters go to stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a == "" || b == "" || loss < 0 || loss > 1 {
				return &FlagError{errors.New("need --a, --b and 0 <= --loss <= 1")}
			}
			return forward(cmd.Context(), a, b, loss, delay, seed, os.Stderr)
		},
	}
	cmd.Flags().StringVar(&a, "a", "", "First interface")
	cmd.Flags().StringVar(&b, "b", "", "Second interface")
	cmd.Flags().Float64Var(&loss, "loss", 0, "Drop probability of each TCP frame, each direction")
	cmd.Flags().DurationVar(&delay, "delay", 0, "One-way delay added to each frame")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "Seed of the drops")
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
		Long: "Each --scenario names a directory holding capture.pcap (or .pcap.gz),\n" +
			"client.jsonl and server.jsonl. Writes a Markdown report to --out and PNG\n" +
			"plots to --plots.",
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
	cmd.Flags().StringArrayVar(&scen, "scenario", nil, "Scenario name=dir (repeatable)")
	cmd.Flags().StringVar(&out, "out", "validation.md", "Markdown report")
	cmd.Flags().StringVar(&plots, "plots", ".", "Directory for the PNG plots")
	cmd.Flags().StringVar(&rel, "plots-rel", "", "Path of --plots as the report links it")
	cmd.Flags().StringVar(&command, "command", "", "Command line quoted in the report")
	return cmd
}
