package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/queries"
)

// cannedHelp is the help of each canned query's command: a one-line
// description for the list of commands, and examples. The long
// description is the query's own (queries.Description), where the SQL
// lives.
var cannedHelp = map[string]struct{ short, example string }{
	"adu-sizes": {"ADU size distribution per direction (the paper's Fig. 4a)", `
# ADU sizes of every server on one day
$ abtq --archive /data/abt --from 2008-04-18 --to 2008-04-19 adu-sizes

# One server's requests, drawn as a CDF
$ abtq --archive /data/abt adu-sizes --server 152.2.1.10 --port 443 --direction c2s --plot sizes.png`},
	"exchanges": {"Exchanges per connection, as a CCDF (the paper's Fig. 4b)", `
# How many exchanges the connections carry
$ abtq --archive /data/abt exchanges

# One web server's, drawn as a log-log CCDF
$ abtq --archive /data/abt exchanges --server 152.2.1.10 --port 80 --plot exchanges.svg`},
	"response-times": {"Response-time quantiles per server, busiest first", `
# The ten busiest servers of one day
$ abtq --archive /data/abt --from 2008-04-18 --to 2008-04-19 response-times --limit 10

# Exact quantiles from every ADU of the HTTPS servers, not the daily rollups
$ abtq --archive /data/abt response-times --port 443 --exact`},
	"response-time-cdf": {"One server's response-time CDF per day or hour (Fig. 5)", `
# One server's response times per day
$ abtq --archive /data/abt response-time-cdf --server 152.2.1.10 --port 80

# Per hour of one day, drawn as one CDF per hour
$ abtq --archive /data/abt --from 2008-04-18 --to 2008-04-19 response-time-cdf --server 152.2.1.10 --port 80 --period hour --plot rt.pdf`},
	"top-servers": {"Servers by connections, with bytes, exchanges, RSTs and RTT", `
# The 50 busiest servers
$ abtq --archive /data/abt top-servers --limit 50

# The mail servers, as JSON
$ abtq --archive /data/abt --format json top-servers --port 25`},
	"conn-buckets": {"Connections bucketed by duration, bytes or throughput", `
# Connections by bytes from the server, in buckets of 100 kB
$ abtq --archive /data/abt conn-buckets --by bytes_out --bucket-size 100000 --buckets 10

# Connections of one server by duration, ignoring those under 1 kB
$ abtq --archive /data/abt conn-buckets --server 152.2.1.10 --port 80 --min-bytes 1000`},
	"conn-list": {"The connections of one bucket of conn-buckets", `
# The connections of the last bucket (1 MB and more from the server)
$ abtq --archive /data/abt conn-list --by bytes_out --bucket-size 100000 --buckets 10 --bucket 9`},
	"syn-attempts": {"Connections by number of SYN attempts, and how they ended", `
# SYN retries towards the HTTPS servers
$ abtq --archive /data/abt syn-attempts --port 443`},
	"collections": {"Each sensor's collections and outages (the paper's Table 3)", `
# How long each sensor collected, and the outages in between
$ abtq --archive /data/abt collections

# One sensor's collections, as JSON
$ abtq --archive /data/abt --sensor campus-edge --format json collections`},
	"loss": {"Live capture by hour: packets read and dropped", `
# The hours in which a sensor's live capture lost packets
$ abtq --archive /data/abt --sensor campus-edge --format csv loss

# As JSON, for a monitoring system
$ abtq --archive /data/abt --format json loss`},
	"runs": {"The run log: each run's span, collection, outage and size", `
# Every run of the archive
$ abtq --archive /data/abt runs

# One sensor's runs, as CSV
$ abtq --archive /data/abt --sensor campus-edge --format csv runs`},
}

// setCannedHelp gives a canned query's command its descriptions and
// examples.
func setCannedHelp(cmd *cobra.Command, name string) {
	h := cannedHelp[name]
	cmd.Short = h.short
	if cmd.Short == "" {
		cmd.Short = queries.Description(name)
	}
	cmd.Long = wrap(queries.Description(name), 76)
	if _, ok := plotters[name]; ok {
		cmd.Long += "\n\n--plot FILE.{png|svg|pdf} draws the result instead of printing it."
	}
	cmd.Example = cli.Example(h.example)
}

// wrap breaks text into lines of at most width columns, between words.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// usageHint follows a usage error.
func usageHint(cmd *cobra.Command) string {
	return "Run '" + cmd.CommandPath() + " --help' for usage."
}

// interruptedLine is the last line of a run stopped by a signal: a file
// asked for with --output or --plot is written whole or not at all (see
// query.CreateOutput), and it was not.
func interruptedLine(g *globals, cmd *cobra.Command) string {
	file := g.output
	if f := cmd.Flags().Lookup("plot"); f != nil && f.Value.String() != "" {
		file = f.Value.String()
	}
	if file == "" {
		return "abtq: interrupted"
	}
	return "abtq: interrupted: " + file + " not written"
}
