// Command mkflood writes the synthetic captures of scripts/flood.sh, which
// measures adu2parquet's memory under a SYN flood and under connections
// whose sequence numbers jump (docs/inference.md, "Memory bound"):
//
//	go run ./scripts/mkflood -o bench/flood-1m.pcap -syns 1000000 -real 1000
//	go run ./scripts/mkflood -o bench/jumps-100k.pcap -jumpers 100000
//
// The capture is described by package internal/flood; the same flags give
// a byte-identical file. It is written to OUT.tmp and renamed into place.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/abt-dev/abt/internal/flood"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is the whole program; it returns the exit status (0 ok, 1 failure, 2
// usage error).
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkflood", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output pcap `path` (required)")
	var s flood.Spec
	fs.IntVar(&s.SYNs, "syns", 0, "flood SYNs, each from its own source")
	fs.IntVar(&s.Rate, "rate", flood.DefaultRate, "flood SYNs per second of packet time")
	fs.IntVar(&s.Real, "real", 0, "real connections interleaved with the flood")
	fs.IntVar(&s.Jumpers, "jumpers", 0, "connections whose sequence numbers jump")
	fs.IntVar(&s.JumpSegs, "jump-segs", flood.DefaultJumpSegs, "data segments per jumping connection")
	fs.DurationVar(&s.JumpEvery, "jump-every", flood.DefaultJumpEvery, "time between two rounds of jumper segments")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkflood -o OUT [-syns N] [-real N] [-jumpers N]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	sum, err := write(*out, s)
	if err != nil {
		fmt.Fprintf(stderr, "mkflood: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "mkflood: wrote %s: %d packets over %s\n", *out, sum.Packets,
		time.Duration(sum.LastNs-sum.FirstNs))
	return 0
}

// write writes the capture to path via path.tmp and a rename. It is a
// rebuildable measurement input, so there is no fsync.
func write(path string, s flood.Spec) (flood.Summary, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return flood.Summary{}, fmt.Errorf("create output: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	sum, err := flood.Write(bw, s)
	if err == nil {
		err = bw.Flush()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return sum, errors.Join(fmt.Errorf("write %s: %w", tmp, err), os.Remove(tmp))
	}
	if err := os.Rename(tmp, path); err != nil {
		return sum, fmt.Errorf("publish output: %w", err)
	}
	return sum, nil
}
