package export

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/abt-dev/abt/schema"
)

// The files of a data set besides its tables.
const (
	ReadmeFile      = "README.md"
	PackageFile     = "datapackage.json"
	LinkedDataFile  = "dataset.jsonld"
	ChecksumsFile   = "SHA256SUMS"
	parquetMimeType = "application/vnd.apache.parquet"
	unstated        = "(not stated: to be filled in by the publisher)"
)

// writeMetadata writes the README, the Frictionless data package, the
// schema.org Dataset and, last, the checksums of every other file.
func writeMetadata(dir string, o Options, res *Result) error {
	created := o.Now().UTC().Truncate(time.Second)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{ReadmeFile, []byte(readme(o, res, created))},
		{PackageFile, mustJSON(dataPackage(o, res, created))},
		{LinkedDataFile, mustJSON(linkedData(o, res, created))},
	} {
		if err := writeFile(filepath.Join(dir, f.name), f.body); err != nil {
			return err
		}
	}
	sums, err := checksums(dir)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, ChecksumsFile), []byte(sums))
}

func writeFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: %s: %w", path, err)
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // maps and slices of strings and numbers
	}
	return append(b, '\n')
}

// checksums returns SHA256SUMS: a line "<hex>  <path>" per file under dir
// (paths relative, with '/'), in path order, as sha256sum -c reads it.
func checksums(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("export: checksums: %w", err)
	}
	return b.String(), nil
}

// title is the data set's title, or one made of what it holds.
func title(o Options, res *Result) string {
	if o.Describe.Title != "" {
		return o.Describe.Title
	}
	return fmt.Sprintf("a-b-t connection vectors of %s, %s", strings.Join(res.Sensors, ", "), coverage(res, " to "))
}

// coverage is the period of the rows: first and last ts, UTC.
func coverage(res *Result, sep string) string {
	if res.First.IsZero() {
		return "no rows"
	}
	return res.First.Format(time.RFC3339) + sep + res.Last.Format(time.RFC3339)
}

func orUnstated(s string) string {
	if s == "" {
		return unstated
	}
	return s
}

// resolution names the timestamps' resolution.
func resolution(o Options) string {
	if o.Resolution <= time.Microsecond {
		return "1 µs (as captured)"
	}
	return o.Resolution.String() + " (truncated from µs for this release)"
}

func readme(o Options, res *Result, created time.Time) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# %s\n\n", title(o, res))
	if o.Describe.Description != "" {
		p("%s\n\n", o.Describe.Description)
	}
	p("The application-level dialogs of TCP connections (a-b-t connection vectors: the sizes of the application data units each side sent and the think times between them) inferred from packet headers by abt, as Parquet tables. Exported %s by %s.\n\n",
		created.Format(time.RFC3339), o.Producer)

	p("## Collection\n\n")
	p("| | |\n|---|---|\n")
	p("| period (the rows' first and last time, UTC) | %s |\n", coverage(res, " – "))
	p("| range exported | %s |\n", rangeText(o))
	p("| place | %s |\n", orUnstated(o.Describe.Place))
	p("| vantage point | %s |\n", orUnstated(o.Describe.Vantage))
	p("| sensors | %s |\n", strings.Join(res.Sensors, ", "))
	p("| collected by | %s |\n", orUnstated(o.Describe.Creator))
	p("| contact | %s |\n", orUnstated(o.Describe.Contact))
	p("| collecting programs | %s |\n", strings.Join(producers(res.Runs), ", "))
	p("| timestamps | UTC; TIMESTAMP columns without time zone hold UTC instants; resolution %s |\n", resolution(o))
	p("| durations | integer microseconds (`_us` columns), as measured |\n\n")

	p("### Runs, loss and outages\n\n")
	p("The collection log: every run of the sensors whose rows are here, or whose packets overlap the range. A run is one invocation of the collecting program; drops are packets the capture lost (live runs), an outage the time between one run's last packet and the next run's first.\n\n")
	p("| sensor | run | status | first packet | last packet | packets | drops | outage before (s) | options |\n|---|---|---|---|---|---:|---:|---:|---|\n")
	for _, r := range sortedRuns(res.Runs) {
		drops := "n/a (files)"
		if r.Drops != nil {
			drops = fmt.Sprint(*r.Drops)
		}
		p("| %s | %s | %s | %s | %s | %d | %s | %s | %s |\n", r.Sensor, r.RunID, r.Status, timeText(r.FirstPacket), timeText(r.LastPacket),
			r.Packets, drops, outageBefore(res.Runs, r), runOptions(r))
	}
	p("\n## Records\n\n| table | rows | files | bytes |\n|---|---:|---:|---:|\n")
	for _, t := range res.Tables {
		p("| %s | %d | %d | %d |\n", t.Name, t.Rows, len(t.Files), t.Bytes)
	}
	p("\n## Selection\n\n")
	p("- Servers: %s; ports: %s; inbound connections only: %t.\n", serversText(o), portsText(o), o.Inbound)
	p("- Exported with: `%s`\n", strings.Join(o.Args, " "))
	p("\n## Anonymisation\n\n")
	if res.Anonymized {
		p("Every IP address (`server_ip`, `client_ip`, and the runs' `local_nets`) is mapped with Crypto-PAn (Xu, Fan, Ammar and Moon, 2002), prefix-preserving, for IPv4 (32 bits) and IPv6 (128 bits), under a key the publisher keeps and does not release: two addresses that share their first k bits still do, and no more, and later releases made with the same key map the same address alike. Ports are kept. The runs' input file names are withheld (`input 1`, ...). Times are at the resolution above.\n")
	} else {
		p("None: addresses are as captured.\n")
	}
	p("\n## Schema\n\n")
	switch o.Format {
	case FormatTmix:
		p("`%s`: the connection vectors of the connections that began in the range (with their ADUs in the range), in tmix's v2 format, as the ns-2 and ns-3 tmix traffic generators read it, one vector per connection in the order of their first packets; the client is the initiator:\n\n", TmixFile)
		p("```\nS <start_us> <exchanges> <index> <conn_id>          a sequential connection\nC <start_us> <initiator ADUs> <acceptor ADUs> <index> <conn_id>   a concurrent one\nw <initiator window> <acceptor window>            %d: the archive records no windows\nr <RTT µs>                                       both legs of the handshake when measured\nl <loss initiator→acceptor> <loss acceptor→initiator>   the share of data packets retransmitted\nI|A <send_wait_us> <recv_wait_us> <bytes>        an ADU of the initiator or acceptor; 0 bytes: its FIN\n```\n\n", tmixWindow)
		p("`start_us` counts from %s. A sequential ADU after the other side's waits `recv_wait` (the think time after it: the server's response time after a request); one after its own side's waits `send_wait`; each concurrent ADU waits `send_wait` after its side's previous one. A side that sent a FIN closes after its last ADU. docs/publishing.md gives the mapping.\n", traceStart(o, res))
		p("\n## Reading it\n\n```sh\nzcat %s | head\nsha256sum -c SHA256SUMS                   # every file as exported\n```\n", TmixFile)
		p("\n`%s` (Frictionless Data Package) and `%s` (schema.org Dataset) describe the same for catalogues.\n", PackageFile, LinkedDataFile)
		p("\n## Terms of use\n\n%s\n", orUnstated(o.Describe.License))
		return b.String()
	case FormatAdudump:
		p("`%s`: the records of the connections that began in the range, with their ADUs in the range, as adudump text, the line format of the adudump paper's Table 2 (`SYN:`, `RTT:`, `SEQ:`, `CONC:`, `ADU:`, `INC:`, `END:` lines: the time in seconds with µs, the endpoints as address.port with the server (or the local side) first and `<` for client to server, then per type the RTT, or an ADU's size, SEQ or CONC and think time), in time order, as `adu2parquet --format adudump` writes it and reads it back (`adu2parquet --out archive %s`). docs/inference.md says what the text carries and what it does not.\n", AdudumpFile, AdudumpFile)
		p("\n## Reading it\n\n```sh\nzcat %s | head\nsha256sum -c SHA256SUMS                   # every file as exported\n```\n", AdudumpFile)
		p("\n`%s` (Frictionless Data Package) and `%s` (schema.org Dataset) describe the same for catalogues.\n", PackageFile, LinkedDataFile)
		p("\n## Terms of use\n\n%s\n", orUnstated(o.Describe.License))
		return b.String()
	case FormatCSV:
		p("Three tables, each a gzip'd CSV file (`<table>.csv.gz`) with a header line: times are UTC in RFC 3339 with µs, an empty field is a null, a list or struct (the runs' `inputs`, say) is JSON. The columns (schema version %d of abt; its docs/schema.md says what each means):\n\n", schema.Version)
	default:
		p("Three tables, each under `<table>/sensor=<sensor>/date=YYYY-MM-DD/hour=H/*.parquet` (Hive partitions: the directories give the columns `sensor`, `date` and `hour`). The columns (schema version %d of abt; its docs/schema.md says what each means):\n\n", schema.Version)
	}
	for _, t := range schema.Tables {
		cols, _ := schema.Columns(t)
		var names []string
		for _, c := range cols {
			names = append(names, fmt.Sprintf("`%s` %s", c.Name, typeText(c.Type)))
		}
		p("- **%s**: %s.\n", t, strings.Join(names, ", "))
	}
	if o.Format == FormatCSV {
		p("\n## Reading it\n\n```sh\nduckdb -c \"SELECT count(*) FROM 'adus.csv.gz'\"\nsha256sum -c SHA256SUMS                   # every file as exported\n```\n")
		p("\n`%s` (Frictionless Data Package) and `%s` (schema.org Dataset) describe the same for catalogues.\n", PackageFile, LinkedDataFile)
		p("\n## Terms of use\n\n%s\n", orUnstated(o.Describe.License))
		return b.String()
	}
	p("\n## Reading it\n\n```sh\nabtq --archive . runs                     # abt's query program reads it as an archive\nduckdb -c \"SELECT count(*) FROM read_parquet('adus/*/*/*/*.parquet', hive_partitioning = true)\"\nsha256sum -c SHA256SUMS                   # every file as exported\n```\n")
	p("\n`%s` (Frictionless Data Package) and `%s` (schema.org Dataset) describe the same for catalogues.\n", PackageFile, LinkedDataFile)
	p("\n## Terms of use\n\n%s\n", orUnstated(o.Describe.License))
	return b.String()
}

// traceStart is where tmix's start times count from.
func traceStart(o Options, res *Result) string {
	if !o.From.IsZero() {
		return o.From.UTC().Format(time.RFC3339) + " (the range's start)"
	}
	return res.First.Format(time.RFC3339Nano) + " (the first row's time)"
}

func rangeText(o Options) string {
	f, t := "the beginning", "the end"
	if !o.From.IsZero() {
		f = o.From.UTC().Format(time.RFC3339)
	}
	if !o.To.IsZero() {
		t = o.To.UTC().Format(time.RFC3339)
	}
	s := "from " + f + " to " + t + " (exclusive)"
	if o.Sensor != "" {
		s += ", sensor " + o.Sensor
	}
	return s
}

func serversText(o Options) string {
	if len(o.Servers) == 0 {
		return "all"
	}
	if o.KeyFile != "" {
		return fmt.Sprintf("%d prefixes (withheld: the release is anonymized)", len(o.Servers))
	}
	var s []string
	for _, p := range o.Servers {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

func portsText(o Options) string {
	if len(o.Ports) == 0 {
		return "all"
	}
	var s []string
	for _, p := range o.Ports {
		s = append(s, fmt.Sprint(p))
	}
	return strings.Join(s, ", ")
}

func timeText(us *int64) string {
	if us == nil {
		return ""
	}
	return time.UnixMicro(*us).UTC().Format("2006-01-02T15:04:05.000000Z")
}

func producers(runs []schema.Run) []string {
	var out []string
	for _, r := range runs {
		if !slices.Contains(out, r.Producer) {
			out = append(out, r.Producer)
		}
	}
	slices.Sort(out)
	return out
}

func sortedRuns(runs []schema.Run) []schema.Run {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b schema.Run) int {
		if c := strings.Compare(a.Sensor, b.Sensor); c != 0 {
			return c
		}
		return int(a.Ts - b.Ts)
	})
	return s
}

// outageBefore is the time between the last packet of the sensor's run
// that ended last before r began and r's first packet ("" for the first
// run, or one that overlaps another).
func outageBefore(runs []schema.Run, r schema.Run) string {
	if r.FirstPacket == nil {
		return ""
	}
	var prev *int64
	for _, o := range runs {
		if o.Sensor != r.Sensor || o.RunID == r.RunID || o.LastPacket == nil || o.FirstPacket == nil || *o.FirstPacket >= *r.FirstPacket {
			continue
		}
		if prev == nil || *o.LastPacket > *prev {
			prev = o.LastPacket
		}
	}
	if prev == nil || *prev > *r.FirstPacket {
		return ""
	}
	return fmt.Sprintf("%.6f", float64(*r.FirstPacket-*prev)/1e6)
}

func runOptions(r schema.Run) string {
	s := fmt.Sprintf("quiet time %s, hold %s, idle timeout %s", time.Duration(r.QuietTimeUs)*time.Microsecond,
		time.Duration(r.HoldUs)*time.Microsecond, time.Duration(r.IdleTimeoutUs)*time.Microsecond)
	if len(r.LocalNets) > 0 {
		s += ", local networks " + strings.Join(r.LocalNets, " ")
	}
	if r.InboundOnly {
		s += ", inbound only"
	}
	return s
}

func typeText(t schema.Type) string {
	switch t.Kind {
	case "array":
		return "list of " + typeText(*t.Elem)
	case "struct":
		var f []string
		for _, c := range t.Fields {
			f = append(f, c.Name+" "+typeText(c.Type))
		}
		return "struct(" + strings.Join(f, ", ") + ")"
	}
	return t.Kind
}

// frictionlessType is a column's Frictionless Table Schema type.
func frictionlessType(t schema.Type) string {
	switch t.Kind {
	case "bigint", "int":
		return "integer"
	case "timestamp":
		return "datetime"
	case "array":
		return "array"
	case "struct":
		return "object"
	}
	return t.Kind // string, boolean, date
}

type jsonObject = map[string]any

// name is the data set's machine name: lower-case words of its title.
func name(o Options, res *Result) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title(o, res)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// dataPackage is the Frictionless Data Package descriptor: one resource
// per table, its files and its Table Schema.
func dataPackage(o Options, res *Result, created time.Time) jsonObject {
	var resources []jsonObject
	for _, t := range res.Tables {
		if len(t.Files) == 0 {
			continue
		}
		cols, _ := schema.Columns(t.Name)
		var fields []jsonObject
		for _, c := range cols {
			fields = append(fields, jsonObject{"name": c.Name, "type": frictionlessType(c.Type)})
		}
		paths := make([]string, len(t.Files))
		for i, f := range t.Files {
			paths[i] = filepath.ToSlash(f)
		}
		r := jsonObject{
			"name": t.Name, "path": paths, "format": "parquet", "mediatype": parquetMimeType,
			"bytes": t.Bytes, "description": fmt.Sprintf("the %s table: %d rows; Hive partitions sensor, date and hour in the paths", t.Name, t.Rows),
			"schema": jsonObject{"fields": fields},
		}
		switch o.Format {
		case FormatCSV:
			r["path"], r["format"], r["mediatype"], r["compression"] = paths[0], "csv", "text/csv", "gz"
			r["description"] = fmt.Sprintf("the %s table: %d rows; times UTC (RFC 3339, µs), lists and structs as JSON", t.Name, t.Rows)
		case FormatTmix:
			r = jsonObject{"name": t.Name, "path": paths[0], "format": "tmix", "mediatype": "text/plain", "compression": "gz",
				"bytes": t.Bytes, "description": fmt.Sprintf("%d connection vectors in tmix's v2 format (S and C records), the client as initiator", t.Rows)}
		case FormatAdudump:
			r = jsonObject{"name": t.Name, "path": paths[0], "format": "adudump", "mediatype": "text/plain", "compression": "gz",
				"bytes": t.Bytes, "description": fmt.Sprintf("%d records as adudump text (the adudump paper's Table 2)", t.Rows)}
		}
		resources = append(resources, r)
	}
	p := jsonObject{
		"profile": "data-package", "name": name(o, res), "title": title(o, res), "created": created.Format(time.RFC3339),
		"description": o.Describe.Description, "resources": resources,
	}
	if o.Describe.License != "" {
		p["licenses"] = []jsonObject{{"name": o.Describe.License}}
	}
	if o.Describe.Creator != "" {
		p["contributors"] = []jsonObject{{"title": o.Describe.Creator, "role": "author"}}
	}
	return p
}

// linkedData is the schema.org Dataset, as JSON-LD.
func linkedData(o Options, res *Result, created time.Time) jsonObject {
	var dist []jsonObject
	var vars []jsonObject
	for _, t := range res.Tables {
		if len(t.Files) == 0 {
			continue
		}
		d := jsonObject{"@type": "DataDownload", "name": t.Name, "encodingFormat": parquetMimeType,
			"contentUrl": t.Name + "/", "contentSize": fmt.Sprintf("%d B", t.Bytes)}
		switch o.Format {
		case FormatCSV:
			d["encodingFormat"], d["contentUrl"] = "text/csv", t.Files[0]
		case FormatTmix, FormatAdudump:
			d["encodingFormat"], d["contentUrl"] = "text/plain", t.Files[0]
		}
		dist = append(dist, d)
		cols, _ := schema.Columns(t.Name)
		for _, c := range cols {
			vars = append(vars, jsonObject{"@type": "PropertyValue", "name": t.Name + "." + c.Name})
		}
	}
	d := jsonObject{
		"@context": "https://schema.org/", "@type": "Dataset", "name": title(o, res),
		"description":          cmp.Or(o.Describe.Description, "a-b-t connection vectors inferred from TCP/IP headers"),
		"dateCreated":          created.Format(time.RFC3339),
		"temporalCoverage":     coverage(res, "/"),
		"measurementTechnique": "passive capture of TCP/IP headers; a-b-t inference (Terrell et al., adudump)",
		"keywords":             []string{"TCP", "network measurement", "a-b-t", "application data unit", "response time"},
		"isAccessibleForFree":  true,
		"variableMeasured":     vars,
		"distribution":         dist,
	}
	if o.Describe.Place != "" {
		d["spatialCoverage"] = jsonObject{"@type": "Place", "name": o.Describe.Place}
	}
	if o.Describe.Creator != "" {
		d["creator"] = jsonObject{"@type": "Organization", "name": o.Describe.Creator}
	}
	if o.Describe.License != "" {
		d["license"] = o.Describe.License
	}
	return d
}
