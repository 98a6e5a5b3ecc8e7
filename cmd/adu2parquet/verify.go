package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/cli"
)

// verifyOptions are the parsed command line of the verify command.
type verifyOptions struct {
	out    string
	sensor string
	quiet  bool
}

// errProblems is verify's result when it found problems (exit status 1).
var errProblems = errors.New("the archive has problems (listed on standard output)")

func newVerifyCmd(runF func(*verifyOptions) error) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [flags]",
		Short: "Check every file of the archive, as fsck checks a file system",
		Long: `verify checks an archive without changing it. Every file under the tables
must be a part adu2parquet wrote there (its footer names its table, sensor,
hour and run), readable to its last page; every run's ADU and connection
rows must add up to what its row in the runs table says, so a lost, added
or truncated file shows; and nothing else may lie among the parts.

Queries already check the footer of every file they read, and refuse a file
adu2parquet did not write, naming it; verify also reads every page and
compares the row counts, and lists every such file at once.

Each finding is a line on standard output: "problem:" for what adu2parquet
did not leave (exit status 1), "note:" for states that need no repair (a run
in progress, leftovers that the next run removes). The last line sums up.`,
		Example: cli.Example(`
  # Check the whole archive
  $ adu2parquet verify --out /data/abt

  # One sensor's files only
  $ adu2parquet verify --out /data/abt --sensor campus-edge`),
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          func(*cobra.Command, []string) error { return runF(o) },
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "archive", "archive `directory`")
	f.StringVar(&o.sensor, "sensor", "", "only this sensor's files")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print problems only, and no summary")
	return cmd
}

// verifyMain runs the verify command.
func verifyMain(ctx context.Context, o *verifyOptions, stdout io.Writer) error {
	if err := checkArchive(o.out); err != nil {
		return err
	}
	rep, err := archive.Verify(ctx, o.out, o.sensor)
	if errors.Is(err, context.Canceled) {
		return &cli.Interrupted{Err: err, Kept: "verify stopped before its end and reports nothing (it changes nothing)"}
	}
	if err != nil {
		return err
	}
	for _, f := range rep.Findings {
		switch {
		case f.Problem:
			fmt.Fprintf(stdout, "problem: %s: %s\n", f.Path, f.What)
		case !o.quiet:
			fmt.Fprintf(stdout, "note: %s: %s\n", f.Path, f.What)
		}
	}
	if !o.quiet {
		fmt.Fprintf(stdout, "verified %s: %d files, %d rows, %d runs; %d problem(s)\n", o.out, rep.Files, rep.Rows, rep.Runs, rep.Problems())
	}
	if rep.Problems() > 0 {
		return errProblems
	}
	return nil
}
