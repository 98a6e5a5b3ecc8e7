package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/export"
)

func newExportCmd(ctx context.Context, g *globals) *cobra.Command {
	var (
		servers    []string
		ports      []int
		o          export.Options
		resolution string
	)
	cmd := &cobra.Command{
		Use:   "export [flags] <dir>",
		Short: "Write a publishable data set: Parquet, metadata, checksums",
		Long: strings.TrimSpace(`
Write the rows of the time range (--from/--to; optionally only some servers,
ports, or the inbound connections) into a new directory, as a data set to
publish: the adus, connections and runs tables as Parquet in the archive's
own layout (abtq and every engine that reads the archive read it too), a
README.md with what a data-set catalogue asks for (collection period, place
and vantage point, collecting program and options, loss and outages from the
runs, timestamp resolution and time zone, anonymisation, record counts, the
schema, terms of use), the same as a Frictionless datapackage.json and a
schema.org Dataset (dataset.jsonld), and SHA256SUMS (sha256sum -c checks
it).

--anonymize KEYFILE maps every address with Crypto-PAn, prefix-preserving,
IPv4 and IPv6, under the key in KEYFILE: created (mode 0600) when missing,
reused when present, so that releases made over years map an address alike.
The key is never written into the data set; keep it private. Ports are kept.
--time-resolution truncates every absolute time (1s, 1ms); durations stay
in µs.

--format csv writes each table as a gzip'd CSV file instead; --format tmix
writes the connections' vectors as the tmix traffic generators read them
(connections.tmix.gz: S and C records, the client as initiator); --format
adudump writes the records as adudump text (adudump.txt.gz), which
adu2parquet reads back.

The directory must not exist; it appears whole or not at all. See
docs/publishing.md.`),
		Example: cli.Example(`
  # A week of one campus link, anonymized, with its description
  $ abtq --archive /data/abt --from 2008-04-14 --to 2008-04-21 export --anonymize ~/.abt/release.key --place "UNC campus" --vantage "border link, both directions" unc-2008-04

  # The inbound web traffic of one day, times to the second
  $ abtq --archive /data/abt --from 2008-04-18 --to 2008-04-19 export --inbound --port 80 --port 443 --time-resolution 1s web-2008-04-18

  # The same as connection vectors for tmix
  $ abtq --archive /data/abt --from 2008-04-18 --to 2008-04-19 --format tmix export --inbound --port 80 tmix-2008-04-18`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.timeRange()
			if err != nil {
				return err
			}
			o.Archive, o.Dir, o.Sensor, o.From, o.To = g.archive, args[0], r.Sensor, r.From, r.To
			for _, s := range servers {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						return &usageError{fmt.Errorf("--server %q: not an address or a prefix (10.0.0.0/8)", s)}
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				o.Servers = append(o.Servers, p.Masked())
			}
			for _, p := range ports {
				if p < 1 || p > 65535 {
					return &usageError{fmt.Errorf("--port %d: not a port", p)}
				}
				o.Ports = append(o.Ports, int32(p))
			}
			if resolution != "" {
				d, err := time.ParseDuration(resolution)
				if err != nil || d < time.Microsecond {
					return &usageError{fmt.Errorf("--time-resolution %q: a duration of at least 1µs (1s, 1ms)", resolution)}
				}
				o.Resolution = d
			}
			if g.output != "" {
				return &usageError{errors.New("export writes a directory: --output does not apply")}
			}
			o.Format = g.format
			if o.Format != "" && !slices.Contains(export.Formats, o.Format) {
				return &usageError{fmt.Errorf("--format %q: export writes parquet (the default), csv, tmix or adudump", o.Format)}
			}
			o.Producer = cli.Producer("abtq")
			o.Args = append([]string{"abtq"}, recordedArgs(g.args, o.KeyFile != "")...)
			res, err := export.Export(ctx, o)
			if err != nil {
				return err
			}
			return exportSummary(cmd.ErrOrStderr(), o, res)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&servers, "server", nil, "only these servers: an address or a prefix (10.1.0.0/16); repeatable")
	fl.IntSliceVar(&ports, "port", nil, "only these server ports; repeatable")
	fl.BoolVar(&o.Inbound, "inbound", false, "only the connections labelled in (their server in the local networks) and their ADUs")
	fl.StringVar(&o.KeyFile, "anonymize", "", "anonymize every address with Crypto-PAn under the key in this `file` (created, mode 0600, when missing)")
	fl.StringVar(&resolution, "time-resolution", "", "truncate absolute times to this `duration` (1s, 1ms; default: as stored, 1µs)")
	fl.StringVar(&o.Describe.Title, "title", "", "the data set's title (default: made of its sensors and period)")
	fl.StringVar(&o.Describe.Description, "description", "", "a paragraph on what the data set is")
	fl.StringVar(&o.Describe.Place, "place", "", "where the sensor watched (a campus, an exchange point)")
	fl.StringVar(&o.Describe.Vantage, "vantage", "", "what it saw from there (the border link, both directions)")
	fl.StringVar(&o.Describe.Creator, "creator", "", "who collected it")
	fl.StringVar(&o.Describe.Contact, "contact", "", "whom to ask about it")
	fl.StringVar(&o.Describe.License, "license", "", "the terms of use (a placeholder when not given)")
	return cmd
}

// exportSummary says on stderr what was written.
func exportSummary(w io.Writer, o export.Options, res export.Result) error {
	var parts []string
	for _, t := range res.Tables {
		parts = append(parts, fmt.Sprintf("%s %d rows", t.Name, t.Rows))
	}
	_, err := fmt.Fprintf(w, "abtq: export: %s: %s; %s\n", res.Dir, strings.Join(parts, ", "), coverageText(res))
	if err == nil && res.KeyCreated {
		_, err = fmt.Fprintf(w, "abtq: export: created the key file %s: keep it private, and reuse it so that later releases map addresses alike\n", o.KeyFile)
	}
	return err
}

func coverageText(res export.Result) string {
	if res.First.IsZero() {
		return "no rows in the range"
	}
	return "from " + res.First.Format(time.RFC3339) + " to " + res.Last.Format(time.RFC3339)
}

// recordedArgs is the command line as the README records it: with
// anonymization, the servers and the key file's path are withheld (an
// address given on the command line is an address in the clear).
func recordedArgs(args []string, anonymized bool) []string {
	out := make([]string, len(args))
	withhold := false
	for i, a := range args {
		switch {
		case withhold:
			out[i], withhold = "(withheld)", false
		case anonymized && (a == "--server" || a == "--anonymize"):
			out[i], withhold = a, true
		case anonymized && (strings.HasPrefix(a, "--server=") || strings.HasPrefix(a, "--anonymize=")):
			name, _, _ := strings.Cut(a, "=")
			out[i] = name + "=(withheld)"
		default:
			out[i] = a
		}
	}
	return out
}
