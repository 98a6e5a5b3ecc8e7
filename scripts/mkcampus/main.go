// Command mkcampus writes a synthetic capture of campus servers (package
// synthcap, Campus), the input of scripts/textlog.sh:
//
//	go run ./scripts/mkcampus -o bench/campus.pcap
//
// The defaults are synthcap.DefaultCampus, the capture of the round-trip
// test of adudump text (cmd/abtq/textlog_test.go); -web, -plain, -mail,
// -span and -seed change it, and the same arguments give the same bytes.
// The file is written to OUT.tmp and renamed into place.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/abt-dev/abt/internal/synthcap"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkcampus:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	def := synthcap.DefaultCampus()
	fs := flag.NewFlagSet("mkcampus", flag.ContinueOnError)
	out := fs.String("o", "", "output pcap (required)")
	c := synthcap.Campus{}
	fs.IntVar(&c.Web, "web", def.Web, "connections to "+synthcap.CampusServer.String())
	fs.IntVar(&c.Plain, "plain", def.Plain, "connections to 198.18.0.2:80")
	fs.IntVar(&c.Mail, "mail", def.Mail, "connections to 198.18.0.3:25 (the server speaks first)")
	fs.DurationVar(&c.Span, "span", def.Span, "connections start within this time from "+synthcap.CampusStart.Format("2006-01-02 15:04:05 MST"))
	fs.Uint64Var(&c.Seed, "seed", def.Seed, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return errors.New("usage: mkcampus -o OUT [-web N] [-plain N] [-mail N] [-span D] [-seed N]")
	}
	f, err := os.Create(*out + ".tmp")
	if err != nil {
		return err
	}
	err = c.Write(f)
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(*out + ".tmp")
		return err
	}
	return os.Rename(*out+".tmp", *out)
}
