package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/klauspost/pgzip"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// config is the command line.
type config struct {
	out        string
	adus       int64
	servers    int
	days       int
	start      time.Time
	seed       uint64
	concurrent float64
	sensor     string
	csv        string
	quiet      bool
	// rowGroupRows is the Parquet row group size; 0 means the archive's
	// default.
	rowGroupRows int64
	// anomalies are the --anomaly specs, parsed (their IP:PORT servers not
	// resolved yet), in the order given; none gives the model's rows.
	anomalies []anomaly
}

func defaultConfig() config {
	return config{adus: 1_000_000, servers: 5000, days: 30, seed: 1, concurrent: 0.03, sensor: "synth"}
}

// Model constants. Times are ns.
const (
	maxExchanges   = 10
	exchangeAlpha  = 1.5 // P(k exchanges) ∝ k^-alpha, k = 1..10
	mss            = 1448
	clientThinkMed = 800 * time.Millisecond
	clientThinkSig = 1.4
	clientThinkMax = 60 * time.Second
	respTimeSig    = 0.8 // spread of one server's response times
	zipfS          = 1.1
)

// server is one server and its own scales.
type server struct {
	addr   netip.AddrPort
	rtMed  float64 // median response time, ns
	rttMed float64 // median SYN→SYN-ACK, ns
	// anomalies are the anomalies with response-time effects on this
	// server (--anomaly); usually none.
	anomalies []*anomaly
}

type summary struct {
	adus, conns, files, bytes int64
	elapsed                   time.Duration
}

// gen holds the generator's state.
type gen struct {
	cfg     config
	rng     *rand.Rand
	zipf    *rand.Zipf
	servers []server
	clients int
	port    uint16
	connID  uint64
	adus    int64 // ADUs generated so far
	pending recHeap
	sink    func(*ingest.Record) error
	exW     [maxExchanges]float64 // cumulative weights of 1..10 exchanges
	loads   []*anomaly            // the anomalies with a load effect
	zipfP   []float64             // the Zipf draw's pmf by server index, when loads
	active  []serverLoad          // redirect's scratch
}

// newGen draws the servers (from their own stream, so that the server
// table does not depend on --adus) and the exchange distribution.
func newGen(cfg config) *gen {
	g := &gen{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 0x5eed_0001)), clients: max(1000, 20*cfg.servers), port: 1024}
	if cfg.servers > 1 {
		g.zipf = rand.NewZipf(g.rng, zipfS, 1, uint64(cfg.servers-1))
	}
	sr := rand.New(rand.NewPCG(cfg.seed, 0x5eed_0002))
	g.servers = make([]server, cfg.servers)
	for i := range g.servers {
		// An odd multiplier permutes 0..2^24-1: unique, scattered addresses.
		x := uint32(i*0x9E3779+0x51ED) & 0xFFFFFF
		ip := netip.AddrFrom4([4]byte{10, byte(x >> 16), byte(x >> 8), byte(x)})
		port := uint16(80)
		switch u := sr.Float64(); {
		case u < 0.25:
			port = 443
		case u < 0.30:
			port = 25
		case u < 0.33:
			port = 8080
		}
		g.servers[i] = server{
			addr:   netip.AddrPortFrom(ip, port),
			rtMed:  float64(20*time.Millisecond) * math.Exp(1.0*sr.NormFloat64()),
			rttMed: float64(30*time.Millisecond) * math.Exp(0.7*sr.NormFloat64()),
		}
	}
	var sum float64
	for k := 1; k <= maxExchanges; k++ {
		sum += math.Pow(float64(k), -exchangeAlpha)
		g.exW[k-1] = sum
	}
	for i := range g.exW {
		g.exW[i] /= sum
	}
	return g
}

// meanADUs is the expected number of ADUs per connection.
func (g *gen) meanADUs() float64 {
	var seq, prev float64
	for k := 1; k <= maxExchanges; k++ {
		seq += 2 * float64(k) * (g.exW[k-1] - prev)
		prev = g.exW[k-1]
	}
	return (1-g.cfg.concurrent)*seq + g.cfg.concurrent*11 // concurrent: 2..20 ADUs
}

// hourWeight is the diurnal pattern: a peak at 14:00 UTC, a trough at
// 02:00, weekends at 70 %.
func hourWeight(t time.Time) float64 {
	w := 1 + 0.7*math.Cos(2*math.Pi*float64(t.Hour()-14)/24)
	if d := t.Weekday(); d == time.Saturday || d == time.Sunday {
		w *= 0.7
	}
	return w
}

func (g *gen) lognormal(median, sigma float64) float64 {
	return median * math.Exp(sigma*g.rng.NormFloat64())
}

// requestSize: lognormal, median 350 bytes.
func (g *gen) requestSize() uint64 {
	return uint64(max(1, math.Round(g.lognormal(350, 0.9))))
}

// responseSize: lognormal (median 2 KB) with a Pareto tail (10 %, from
// 10 KB, alpha 1.2), at most 1 GB.
func (g *gen) responseSize() uint64 {
	var s float64
	if g.rng.Float64() < 0.1 {
		s = 10_000 / math.Pow(1-g.rng.Float64(), 1/1.2)
	} else {
		s = g.lognormal(2000, 1.3)
	}
	return uint64(min(1e9, max(1, math.Round(s))))
}

// transfer is an ADU's duration: slow start rounds plus serialisation at
// the connection's bandwidth (bits/s).
func transfer(size uint64, rtt, bw float64) int64 {
	if size <= mss {
		return 0
	}
	rounds := math.Ceil(math.Log2(1 + float64(size)/(10*mss)))
	return int64(rounds*rtt + float64(size)*8e9/bw)
}

// pickServer picks the server of a connection that starts at t0: a Zipf
// draw, unless a load anomaly redirects it.
func (g *gen) pickServer(t0 int64) *server {
	if len(g.loads) > 0 {
		if s := g.redirect(t0); s != nil {
			return s
		}
	}
	if g.zipf == nil {
		return &g.servers[0]
	}
	return &g.servers[g.zipf.Uint64()]
}

func (g *gen) client() netip.AddrPort {
	i := uint32(g.rng.IntN(g.clients))
	ip := netip.AddrFrom4([4]byte{100, 64 | byte(i>>16)&0x3F, byte(i >> 8), byte(i)})
	g.port++
	if g.port < 1024 {
		g.port = 1024
	}
	return netip.AddrPortFrom(ip, g.port)
}

// adu is an ADU being generated.
type adu struct {
	dir         ingest.Dir
	size        uint64
	first, last int64
	think       int64 // -1: unknown
}

// connection generates one connection that starts at t0 with at most
// limit ADUs and queues its records.
func (g *gen) connection(t0 int64, limit int64) {
	srv := g.pickServer(t0)
	client := g.client()
	g.connID++
	rtt := g.lognormal(srv.rttMed, 0.3)
	ackRTT := g.lognormal(float64(time.Millisecond), 0.5)
	bw := g.lognormal(20e6, 1.0)
	cs := &ingest.ConnSummary{
		SynNs: t0, FirstNs: t0, RTTNs: int64(rtt), AckRTTNs: int64(ackRTT),
		SynAttempts: 1, SynAckAttempts: 1, Handshake: ingest.HandshakeSYN, End: ingest.EndFIN,
	}
	if g.rng.Float64() < 0.01 { // a lost SYN, retried after 1 s
		cs.SynAttempts = 2
		t0 += int64(time.Second)
	}
	cs.EstablishedNs = t0 + int64(rtt+ackRTT)
	cur := cs.EstablishedNs + int64(g.lognormal(float64(time.Millisecond), 1))
	var adus []adu
	concurrent := g.rng.Float64() < g.cfg.concurrent
	if concurrent {
		n := int64(2 + g.rng.IntN(19))
		for i := int64(0); i < min(n, limit); i++ {
			d := ingest.DirC2S
			if g.rng.IntN(2) == 1 {
				d = ingest.DirS2C
			}
			size := g.requestSize()
			if d == ingest.DirS2C {
				size = g.responseSize()
			}
			a := adu{dir: d, size: size, first: cur, think: -1}
			a.last = cur + transfer(size, rtt, bw)
			adus = append(adus, a)
			cur += int64(g.lognormal(float64(200*time.Millisecond), 1))
		}
		// Think time of a concurrent ADU: the idle gap to the next ADU in
		// the same direction.
		for i := range adus {
			for j := i + 1; j < len(adus); j++ {
				if adus[j].dir == adus[i].dir {
					adus[i].think = max(0, adus[j].first-adus[i].last)
					break
				}
			}
		}
		cs.Concurrent = true
		cs.ConcurrentNs = adus[min(1, len(adus)-1)].first
	} else {
		u := g.rng.Float64()
		k := 1
		for k < maxExchanges && u > g.exW[k-1] {
			k++
		}
		for i := 0; i < k && int64(len(adus)) < limit; i++ {
			req := adu{dir: ingest.DirC2S, size: g.requestSize(), first: cur}
			req.last = cur + transfer(req.size, rtt, bw)
			req.think = g.responseTime(srv, req.last)
			cur = req.last + req.think
			adus = append(adus, req)
			if int64(len(adus)) == limit {
				break
			}
			resp := adu{dir: ingest.DirS2C, size: g.responseSize(), first: cur}
			resp.last = cur + transfer(resp.size, rtt, bw)
			resp.think = min(int64(g.lognormal(float64(clientThinkMed), clientThinkSig)), int64(clientThinkMax))
			cur = resp.last + resp.think
			adus = append(adus, resp)
			cs.Exchanges++
		}
		adus[len(adus)-1].think = -1
		if adus[len(adus)-1].dir == ingest.DirC2S {
			adus[len(adus)-1].think = -1 // no response: ends the connection
		}
	}
	end := adus[len(adus)-1].last + int64(g.lognormal(float64(5*time.Millisecond), 1))
	if g.rng.Float64() < 0.02 {
		cs.End = ingest.EndRST
	}
	for i, a := range adus {
		r := ingest.Record{Kind: ingest.KindADU, ConnID: g.connID, Client: client, Server: srv.addr, Dir: a.dir,
			Size: a.size, Concurrent: concurrent, ThinkNs: a.think, FirstNs: a.first, LastNs: a.last, Ordinal: uint32(i)}
		r.TsNs = end
		if a.think >= 0 {
			r.TsNs = a.last + a.think
			// In a sequential dialog every think time ends at the other
			// side's next ADU.
			r.ThinkToPeer = !concurrent
		}
		st := &cs.C2S
		if a.dir == ingest.DirS2C {
			st = &cs.S2C
		}
		segs := (a.size + mss - 1) / mss
		st.ADUs++
		st.DataPkts += segs
		st.Pkts += segs
		st.Bytes += a.size
		st.UniqueBytes += a.size
		g.pending.push(r)
	}
	g.adus += int64(len(adus))
	cs.C2S.Pkts += 2 + cs.S2C.DataPkts/2 // SYN, FIN and ACKs
	cs.S2C.Pkts += 2 + cs.C2S.DataPkts/2
	cs.C2S.MSS, cs.S2C.MSS, cs.C2S.WScale, cs.S2C.WScale = 1460, 1460, 7, 7
	cs.C2S.FIN, cs.S2C.FIN = cs.End == ingest.EndFIN, cs.End == ingest.EndFIN
	cs.S2C.RST = cs.End == ingest.EndRST
	cs.LastNs, cs.EndNs = end, end
	g.pending.push(ingest.Record{Kind: ingest.KindEND, TsNs: end, ConnID: g.connID, Client: client, Server: srv.addr,
		Dir: ingest.DirC2S, Conn: cs, Reason: cs.End})
}

// drain passes the queued records decided at or before now to the sink,
// in time order.
func (g *gen) drain(now int64) error {
	for len(g.pending) > 0 && g.pending[0].TsNs <= now {
		r := g.pending.pop()
		if err := g.sink(&r); err != nil {
			return err
		}
	}
	return nil
}

// generate writes the archive (and the CSV).
func generate(ctx context.Context, cfg config, stderr io.Writer) (summary, error) {
	began := time.Now()
	var sum summary
	g := newGen(cfg)
	anomalies, err := g.setAnomalies(slices.Clone(cfg.anomalies))
	if err != nil {
		return sum, &usageError{err}
	}
	fp, inputName := identity(cfg, anomalies)
	finish := cfg.start.AddDate(0, 0, cfg.days)
	a, err := archive.Open(archive.Options{
		Root: cfg.out, Sensor: cfg.sensor, RunID: fmt.Sprintf("abtgen-s%d", cfg.seed),
		Grace: 30 * time.Minute, RowGroupRows: cfg.rowGroupRows, Producer: cli.Producer("abtgen"),
		Now: func() time.Time { return finish },
	}, []archive.Input{{Name: inputName, Fingerprint: fp}})
	if err != nil {
		return sum, err
	}
	var csvw *csvWriter
	if cfg.csv != "" {
		if csvw, err = newCSVWriter(cfg.csv); err != nil {
			a.Abort()
			return sum, err
		}
	}
	var nADU, nEND int64
	g.sink = func(r *ingest.Record) error {
		if r.Kind == ingest.KindADU {
			nADU++
			if csvw != nil {
				csvw.row(r)
			}
		} else {
			nEND++
		}
		return a.Record(r)
	}
	fail := func(err error) (summary, error) {
		a.Abort()
		if csvw != nil {
			csvw.abort()
		}
		return sum, err
	}

	// Connections arrive as a Poisson process whose rate follows the
	// diurnal pattern, scaled so that the month holds about --adus ADUs.
	hours := cfg.days * 24
	var wsum float64
	for h := range hours {
		wsum += hourWeight(cfg.start.Add(time.Duration(h) * time.Hour))
	}
	conns := float64(cfg.adus) / g.meanADUs()
	h := 0
	hourStart := cfg.start.UnixNano()
	rate := func(h int) float64 { // connections per ns
		h = min(h, hours-1)
		return conns * hourWeight(cfg.start.Add(time.Duration(h)*time.Hour)) / wsum / float64(time.Hour)
	}
	t := hourStart + int64(g.rng.ExpFloat64()/rate(0))
	first, lastAdvance, lastReport := t, t, time.Now()
	for g.adus < cfg.adus {
		for t >= hourStart+int64(time.Hour) && h < hours-1 {
			// Memoryless: restart the clock at the hour with its rate.
			h++
			hourStart += int64(time.Hour)
			t = hourStart + int64(g.rng.ExpFloat64()/rate(h))
		}
		g.connection(t, cfg.adus-g.adus)
		if err := g.drain(t); err != nil {
			return fail(err)
		}
		if t-lastAdvance >= int64(time.Minute) {
			if err := a.Advance(t); err != nil {
				return fail(err)
			}
			lastAdvance = t
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
			if now := time.Now(); !cfg.quiet && now.Sub(lastReport) >= 5*time.Second {
				lastReport = now
				el := now.Sub(began).Seconds()
				rateNow := float64(g.adus) / el
				fmt.Fprintf(stderr, "abtgen: %.1f M of %.1f M ADUs (%.0f %%), at %s, %.0f k ADUs/s, about %s left\n",
					float64(g.adus)/1e6, float64(cfg.adus)/1e6, 100*float64(g.adus)/float64(cfg.adus),
					time.Unix(0, t).UTC().Format("2006-01-02T15:04Z"), rateNow/1e3,
					(time.Duration(float64(cfg.adus-g.adus)/rateNow) * time.Second).Round(time.Second))
			}
		}
		t += int64(g.rng.ExpFloat64() / rate(h))
	}
	last := int64(math.MinInt64)
	for _, r := range g.pending {
		last = max(last, r.TsNs)
	}
	if err := g.drain(math.MaxInt64); err != nil {
		return fail(err)
	}
	if csvw != nil {
		if err := csvw.close(); err != nil {
			return fail(err)
		}
	}
	s, err := a.Close(archive.RunInfo{
		Status: "complete", FirstPacket: first, LastPacket: last, Options: ingest.DefaultOptions(),
		Inputs:  []schema.Input{{Name: inputName, Fingerprint: fp, Format: "synthetic"}},
		Records: []schema.Counter{{Name: "ADU", Value: nADU}, {Name: "END", Value: nEND}},
	})
	if err != nil {
		return sum, err
	}
	return summary{adus: s.ADUs, conns: s.Conns, files: s.Files, bytes: s.Bytes, elapsed: time.Since(began)}, nil
}

// identity returns the run's input fingerprint (hex SHA-256 of the
// flags that decide the rows) and input name. Without anomalies both are
// what they were before --anomaly existed, so that archives written then
// keep their identity; the normalised anomaly specs are appended to both.
func identity(cfg config, anomalies []string) (fingerprint, name string) {
	fp := fmt.Appendf(nil, "abtgen v1 adus=%d servers=%d days=%d start=%s seed=%d concurrent=%g",
		cfg.adus, cfg.servers, cfg.days, cfg.start.Format("2006-01-02"), cfg.seed, cfg.concurrent)
	name = fmt.Sprintf("abtgen --adus %d --servers %d --days %d --start %s --seed %d",
		cfg.adus, cfg.servers, cfg.days, cfg.start.Format("2006-01-02"), cfg.seed)
	for _, a := range anomalies {
		fp = fmt.Appendf(fp, " anomaly=%s", a)
		name += " --anomaly " + a
	}
	sum := sha256.Sum256(fp)
	return hex.EncodeToString(sum[:]), name
}

// recHeap is a min-heap of records by decision time (then connection and
// ordinal, for determinism), without boxing.
type recHeap []ingest.Record

func (h recHeap) less(i, j int) bool {
	if h[i].TsNs != h[j].TsNs {
		return h[i].TsNs < h[j].TsNs
	}
	if h[i].ConnID != h[j].ConnID {
		return h[i].ConnID < h[j].ConnID
	}
	if h[i].Kind != h[j].Kind {
		return h[i].Kind < h[j].Kind
	}
	return h[i].Ordinal < h[j].Ordinal
}

func (h *recHeap) push(r ingest.Record) {
	*h = append(*h, r)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *recHeap) pop() ingest.Record {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = ingest.Record{}
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s.less(l, m) {
			m = l
		}
		if l+1 < n && s.less(l+1, m) {
			m = l + 1
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// csvWriter writes ADU rows as gzip'd CSV with the adus view's columns.
type csvWriter struct {
	f   *os.File
	tmp string
	dst string
	z   *pgzip.Writer
	w   *bufio.Writer
	buf []byte
}

const csvHeader = "ts,server_ip,server_port,client_ip,client_port,conn_id,ordinal,direction,size,duration_us,think_us,concurrent,complete,think_to_peer\n"

func newCSVWriter(path string) (*csvWriter, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("create csv: %w", err)
	}
	z, _ := pgzip.NewWriterLevel(f, pgzip.BestSpeed)
	c := &csvWriter{f: f, tmp: tmp, dst: path, z: z, w: bufio.NewWriterSize(z, 1<<20)}
	_, _ = c.w.WriteString(csvHeader)
	return c, nil
}

// us converts ns to µs, rounding towards minus infinity (as the archive).
func us(ns int64) int64 {
	q := ns / 1000
	if ns%1000 < 0 {
		q--
	}
	return q
}

func (c *csvWriter) row(r *ingest.Record) {
	b := c.buf[:0]
	ts := us(r.FirstNs)
	b = time.UnixMicro(ts).UTC().AppendFormat(b, "2006-01-02 15:04:05.000000")
	b = append(b, ',')
	b = r.Server.Addr().AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(r.Server.Port()), 10)
	b = append(b, ',')
	b = r.Client.Addr().AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(r.Client.Port()), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.ConnID, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(r.Ordinal), 10)
	b = append(b, ',')
	b = append(b, r.Dir.String()...)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.Size, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, us(r.LastNs)-ts, 10)
	b = append(b, ',')
	if r.ThinkNs >= 0 {
		b = strconv.AppendInt(b, us(r.ThinkNs), 10)
	}
	b = append(b, ',')
	b = strconv.AppendBool(b, r.Concurrent)
	b = append(b, ",true,"...)
	b = strconv.AppendBool(b, r.ThinkToPeer)
	b = append(b, '\n')
	c.buf = b
	_, _ = c.w.Write(b)
}

func (c *csvWriter) close() error {
	err := errors.Join(c.w.Flush(), c.z.Close(), c.f.Sync(), c.f.Close())
	if err == nil {
		err = os.Rename(c.tmp, c.dst)
	}
	if err != nil {
		_ = os.Remove(c.tmp)
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func (c *csvWriter) abort() {
	_ = c.z.Close()
	_ = c.f.Close()
	_ = os.Remove(c.tmp)
}
