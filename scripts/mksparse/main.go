// Command mksparse writes a capture of short connections at scattered
// times (package synthcap), the input of scripts/sparse.sh:
//
//	go run ./scripts/mksparse -o bench/sparse-2000.pcap -conns 2000
//
// Each connection is 4 packets (SYN, SYN-ACK, a 100-byte request, FIN);
// start times are uniformly random over [-from, -to) (default 2020-01-01 to
// 2023-01-01), sorted, from -seed: the same arguments give the same bytes.
// The file is written to OUT.tmp and renamed into place.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/abt-dev/abt/internal/synthcap"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mksparse:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mksparse", flag.ContinueOnError)
	out := fs.String("o", "", "output pcap (required)")
	conns := fs.Int("conns", 2000, "connections")
	from := fs.String("from", "2020-01-01T00:00:00Z", "earliest start (RFC 3339)")
	to := fs.String("to", "2023-01-01T00:00:00Z", "latest start, exclusive (RFC 3339)")
	servers := fs.Int("servers", 16, "distinct server addresses")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return errors.New("usage: mksparse -o OUT [-conns N] [-from T] [-to T] [-servers N] [-seed N]")
	}
	s := synthcap.Sparse{Conns: *conns, Servers: *servers, Seed: *seed}
	var err error
	if s.From, err = time.Parse(time.RFC3339, *from); err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	if s.To, err = time.Parse(time.RFC3339, *to); err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	f, err := os.Create(*out + ".tmp")
	if err != nil {
		return err
	}
	err = s.Write(f)
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(*out + ".tmp")
		return err
	}
	return os.Rename(*out+".tmp", *out)
}
