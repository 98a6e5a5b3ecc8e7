package main

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// anomaly is one server performance anomaly injected with --anomaly: a
// window of one server's time in which its response times or its load are
// not what the model draws, a known answer for anomaly detection (the
// paper's section 7, abtq anomalies).
//
// Response-time effects apply to the sequential requests whose response
// would start in the window (the request's last byte, req.last, is in
// it); load decides by the connection's start. The think times of
// concurrent connections are idle gaps, not response times: no effect
// changes them. Effects of several anomalies that hold at the same time
// compound (factors multiply).
type anomaly struct {
	// spec is the --anomaly value as given, for error messages.
	spec string
	// serverArg is the server as given: "IP:PORT" or "#N".
	serverArg string
	// server is the server's index in gen.servers (0 is the busiest); -1
	// until resolve finds an IP:PORT.
	server int
	// from and to bound the window [from, to), ns since the epoch (UTC);
	// to is math.MaxInt64 when for= is not given: the window then holds
	// the rows after the last of --days too (the last connections' ADUs,
	// and any that the Poisson arrivals put after it to reach --adus).
	from, to int64
	// scale multiplies the response times; 0 when not given.
	scale float64
	// spread multiplies the lognormal σ of the response times (the median
	// stays); 0 when not given.
	spread float64
	// load multiplies the server's Zipf weight for the connections that
	// start in the window (at least 1); 0 when not given.
	load float64
	// weekend multiplies the response times on Saturdays and Sundays (UTC);
	// 0 when not given.
	weekend float64
}

// anomalyKeys are the keys of an --anomaly spec, in their normalised
// order.
const anomalyKeys = "server, from, for, scale, spread, load, weekend"

// maxResponseTime bounds an anomalous response time, so that an extreme
// scale or spread cannot overflow the ns counters. Without --anomaly no
// response time is bounded (and none comes near).
const maxResponseTime = 24 * time.Hour

// parseAnomaly parses an --anomaly spec (see the flag's help) for an
// archive of days days from start (UTC midnight) and servers servers.
// The error names the spec and the problem, in one line.
func parseAnomaly(spec string, start time.Time, days, servers int) (anomaly, error) {
	a, err := parseAnomalyFields(spec, start, days, servers)
	if err != nil {
		return anomaly{}, fmt.Errorf("--anomaly %q: %w", spec, err)
	}
	return a, nil
}

// parseAnomalyFields is parseAnomaly without the spec in its errors.
func parseAnomalyFields(spec string, start time.Time, days, servers int) (anomaly, error) {
	a := anomaly{spec: spec, server: -1}
	finish := start.AddDate(0, 0, days)
	from := start
	var dur time.Duration // 0: to the end of the archive
	seen := map[string]bool{}
	for field := range strings.SplitSeq(spec, ",") {
		key, val, ok := strings.Cut(field, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key == "" && !ok {
			return a, fmt.Errorf("empty field (want key=value pairs, keys: %s)", anomalyKeys)
		}
		if !strings.Contains(", "+anomalyKeys+",", ", "+key+",") {
			return a, fmt.Errorf("unknown key %q (keys: %s)", key, anomalyKeys)
		}
		if !ok || val == "" {
			return a, fmt.Errorf("%s= needs a value", key)
		}
		if seen[key] {
			return a, fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "server":
			err = a.parseServer(val, servers)
		case "from":
			from, err = parseFrom(val)
		case "for":
			if dur, err = time.ParseDuration(val); err != nil || dur <= 0 {
				err = fmt.Errorf("for=%s: must be a duration greater than 0, such as 72h or 90m", val)
			}
		case "scale":
			a.scale, err = parseFactor(key, val, false)
		case "spread":
			a.spread, err = parseFactor(key, val, false)
		case "weekend":
			a.weekend, err = parseFactor(key, val, false)
		case "load":
			a.load, err = parseFactor(key, val, true)
		}
		if err != nil {
			return a, err
		}
	}
	if a.serverArg == "" {
		return a, errors.New("server= is required: IP:PORT of a generated server, or #N, the N-th busiest")
	}
	if a.scale == 0 && a.spread == 0 && a.load == 0 && a.weekend == 0 {
		return a, errors.New("no effect: give at least one of scale=, spread=, load=, weekend=")
	}
	to := finish
	if dur > 0 {
		to = from.Add(dur)
	}
	if from.Before(start) || !to.After(from) || to.After(finish) {
		return a, fmt.Errorf("window %s to %s is outside the archive's days, %s to %s",
			from.Format(anomalyTime), to.Format(anomalyTime), start.Format(anomalyTime), finish.Format(anomalyTime))
	}
	a.from, a.to = from.UnixNano(), to.UnixNano()
	if dur == 0 {
		a.to = math.MaxInt64
	}
	return a, nil
}

// anomalyTime is the layout of from= (a date alone is its midnight).
const anomalyTime = "2006-01-02T15:04"

// parseFrom parses from=: a UTC date (its midnight) or date and time.
func parseFrom(val string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", anomalyTime} {
		if t, err := time.Parse(layout, val); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("from=%s: not a UTC time YYYY-MM-DD or YYYY-MM-DDTHH:MM", val)
}

// maxFactor bounds an effect's factor: far beyond any anomaly worth
// detecting, and small enough that products of a few stay finite.
const maxFactor = 1000

// parseFactor parses an effect's factor: a number greater than 0, or with
// atLeastOne (load) 1 or more (load=1 is allowed, if pointless); at most
// maxFactor.
func parseFactor(key, val string, atLeastOne bool) (float64, error) {
	f, err := strconv.ParseFloat(val, 64)
	ok := err == nil && f > 0 && f <= maxFactor && (!atLeastOne || f >= 1) // NaN fails f > 0
	switch {
	case ok:
		return f, nil
	case atLeastOne:
		return 0, fmt.Errorf("%s=%s: must be a number from 1 to %d", key, val, maxFactor)
	}
	return 0, fmt.Errorf("%s=%s: must be a number greater than 0, at most %d", key, val, maxFactor)
}

// parseServer parses server=: #N (checked against the number of servers
// here) or IP:PORT (checked by resolve, against the generated servers).
func (a *anomaly) parseServer(val string, servers int) error {
	a.serverArg = val
	if n, ok := strings.CutPrefix(val, "#"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 {
			return fmt.Errorf("server=%s: #N needs a whole number N, 0 or more", val)
		}
		if i >= servers {
			return fmt.Errorf("server=%s: there are only %d servers (#0 to #%d)", val, servers, servers-1)
		}
		a.server = i
		return nil
	}
	if _, err := netip.ParseAddrPort(val); err != nil {
		return fmt.Errorf("server=%s: not IP:PORT or #N", val)
	}
	return nil
}

// resolve finds the server of a given by IP:PORT among g's servers.
func (g *gen) resolve(a *anomaly) error {
	if a.server >= 0 {
		return nil
	}
	ap, _ := netip.ParseAddrPort(a.serverArg) // checked by parseServer
	for i := range g.servers {
		if g.servers[i].addr == ap {
			a.server = i
			return nil
		}
	}
	return fmt.Errorf("--anomaly %q: server %s is not one of the generated servers (#N names the N-th busiest)",
		a.spec, a.serverArg)
}

// normalise returns the normalised spec, for the run's fingerprint and
// input name: the server by address, from= explicit, for= when given, the
// effects in a fixed order. Specs that name the same anomaly differently
// ("#0" and its address, from= left out or given as --start, for= as 72h
// or 4320m, keys in another order) normalise alike. a's server must be
// resolved.
func (a *anomaly) normalise(g *gen) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server=%s,from=%s", g.servers[a.server].addr, time.Unix(0, a.from).UTC().Format(anomalyTime))
	if a.to != math.MaxInt64 {
		fmt.Fprintf(&b, ",for=%s", time.Duration(a.to-a.from))
	}
	for _, e := range []struct {
		key string
		f   float64
	}{{"scale", a.scale}, {"spread", a.spread}, {"load", a.load}, {"weekend", a.weekend}} {
		if e.f != 0 {
			fmt.Fprintf(&b, ",%s=%s", e.key, strconv.FormatFloat(e.f, 'g', -1, 64))
		}
	}
	return b.String()
}

// in reports whether ns lies in a's window.
func (a *anomaly) in(ns int64) bool { return a.from <= ns && ns < a.to }

// setAnomalies resolves the anomalies' servers and indexes them for the
// generator: response-time effects by server, loads in a list. It returns
// the normalised specs.
func (g *gen) setAnomalies(as []anomaly) ([]string, error) {
	norm := make([]string, 0, len(as))
	for i := range as {
		a := &as[i]
		if err := g.resolve(a); err != nil {
			return nil, err
		}
		norm = append(norm, a.normalise(g))
		if a.scale != 0 || a.spread != 0 || a.weekend != 0 {
			s := &g.servers[a.server]
			s.anomalies = append(s.anomalies, a)
		}
		if a.load != 0 {
			g.loads = append(g.loads, a)
		}
	}
	if len(g.loads) > 0 {
		g.zipfP = zipfPMF(len(g.servers))
	}
	return norm, nil
}

// zipfPMF returns the probabilities with which pickServer's Zipf draw
// (rand.Zipf with s = zipfS, v = 1, imax = n-1) picks each of n servers:
// P(k) ∝ (1+k)^-s.
func zipfPMF(n int) []float64 {
	p := make([]float64, n)
	var sum float64
	for k := range p {
		p[k] = math.Pow(1+float64(k), -zipfS)
		sum += p[k]
	}
	for k := range p {
		p[k] /= sum
	}
	return p
}

// responseTime draws a response time (ns) of srv for a request whose last
// byte is at ns at: the model's lognormal, or, when an anomaly of srv
// holds at that time, the lognormal its effects make. Both draw one
// normal variate, so anomalies keep the random stream as it is.
func (g *gen) responseTime(srv *server, at int64) int64 {
	if len(srv.anomalies) == 0 {
		return int64(g.lognormal(srv.rtMed, respTimeSig))
	}
	sigma, f, held := respTimeSig, 1.0, false
	for _, a := range srv.anomalies {
		if !a.in(at) {
			continue
		}
		held = true
		if a.scale != 0 {
			f *= a.scale
		}
		if a.spread != 0 {
			sigma *= a.spread
		}
		if a.weekend != 0 {
			if d := time.Unix(0, at).UTC().Weekday(); d == time.Saturday || d == time.Sunday {
				f *= a.weekend
			}
		}
	}
	rt := g.lognormal(srv.rtMed, sigma) * f
	if held {
		rt = min(rt, float64(maxResponseTime))
	}
	return int64(rt)
}

// redirect applies the load anomalies that hold at t0, the start of a
// connection: it returns the server the connection goes to instead of a
// Zipf draw, or nil for a Zipf draw. It draws a number only while a load
// anomaly holds.
//
// A load F on server i multiplies i's Zipf weight p_i by F; with several
// (F of one server multiplied together), i's share of connections becomes
// q_i = F_i p_i / D, D = 1 + Σ_j (F_j - 1) p_j. Connections go to i
// outright with probability r_i = (F_i - 1) p_i / D and to the Zipf draw
// with 1 - Σ r_j = 1/D, so that i's share is r_i + p_i / D = q_i. The total rate
// of connections stays the model's, so i's count grows by F_i / D: about
// F_i for a server with a small share, less for a busy one (for one
// anomaly, F p / (1 + (F-1) p) is i's share).
func (g *gen) redirect(t0 int64) *server {
	act := g.active[:0]
	for _, a := range g.loads {
		if !a.in(t0) {
			continue
		}
		found := false
		for j := range act {
			if act[j].server == a.server {
				act[j].f *= a.load
				found = true
			}
		}
		if !found {
			act = append(act, serverLoad{a.server, a.load})
		}
	}
	g.active = act
	if len(act) == 0 {
		return nil
	}
	d := 1.0
	for _, l := range act {
		d += (l.f - 1) * g.zipfP[l.server]
	}
	u := g.rng.Float64() * d
	var acc float64
	for _, l := range act {
		acc += (l.f - 1) * g.zipfP[l.server]
		if u < acc {
			return &g.servers[l.server]
		}
	}
	return nil
}

// serverLoad is a server and the product of the loads on it that hold.
type serverLoad struct {
	server int
	f      float64
}
