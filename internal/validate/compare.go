package validate

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/abt-dev/abt/internal/ingest"
)

// Mismatch is one connection whose inferred ADU vector differs from the
// ground truth, with the causes the ground truth explains.
type Mismatch struct {
	Client    netip.AddrPort
	Mode      Mode
	Truth     string // the true vector, e.g. "c2s:120 s2c:3400"
	Inferred  string
	Causes    []string
	Explained bool // every difference has a known cause
}

// ThinkPair is one think time, actual (at the application) and measured
// (at the monitor).
type ThinkPair struct {
	Dir      string // the direction of the ADU the think time follows
	ActualNs int64
	MeasNs   int64
}

// Result is the comparison of one scenario.
type Result struct {
	Conns     int // connections with ground truth
	Matched   int // of them, seen by the engine
	Exact     int // ADU vector exactly right (count, directions, sizes)
	ByMode    map[Mode][2]int
	SizesTrue map[string][]float64 // per direction
	SizesMeas map[string][]float64
	// ThinkTrue and ThinkMeas are every defined think time (ns) after an
	// ADU of each direction, actual and measured, over all connections: the
	// distributions of the paper's Fig. 2(b) and 3(b).
	ThinkTrue map[string][]float64
	ThinkMeas map[string][]float64
	Think     []ThinkPair
	// Isolated counts concurrent-connection ADUs separated from their
	// direction's neighbours by more than the quiet time; Recovered those
	// inferred with their exact size and position.
	Isolated, Recovered int
	// ShortPauses counts concurrent ADUs (not isolated) merged with a
	// neighbour because the pause was not longer than the quiet time.
	ShortPauses int
	Mismatches  []Mismatch
	RTTNs       []float64 // handshake RTTs at the monitor
	// Wire scores the concurrent connections by what the capture shows
	// (ReadWire), per address family ("IPv4", "IPv6"); nil when the
	// overlap was not computed.
	Wire map[string]*WireScore
}

// WireScore counts the concurrent connections of one address family by
// what the wire shows: Detectable ones had both sides' data in flight at
// the monitor at once, Hidden ones never did (they look sequential to any
// monitor: counted, not scored). Dirs are the directions of the detectable
// ones that carried data, DirsExact those whose ADU boundaries are exact up
// to what the method can tell: every difference is a pause not longer than
// the quiet time, the application's or the wire's (a merge), or one longer
// within an ADU, or a retransmission seen more than the quiet time late (a
// split) — explain's explained causes.
type WireScore struct {
	Detectable, Hidden, Dirs, DirsExact int
}

// Frac is the fraction of directions exact.
func (w *WireScore) Frac() float64 {
	if w.Dirs == 0 {
		return 0
	}
	return float64(w.DirsExact) / float64(w.Dirs)
}

// Unexplained returns the number of mismatches with an unexplained part.
func (r *Result) Unexplained() int {
	n := 0
	for _, m := range r.Mismatches {
		if !m.Explained {
			n++
		}
	}
	return n
}

// ExactFrac returns the fraction of connections with an exact ADU vector.
func (r *Result) ExactFrac() float64 {
	if r.Conns == 0 {
		return 0
	}
	return float64(r.Exact) / float64(r.Conns)
}

// ThinkErrors returns the absolute think-time errors (ns) of the ADUs of
// direction dir ("" for all).
func (r *Result) ThinkErrors(dir string) []float64 {
	var e []float64
	for _, p := range r.Think {
		if dir == "" || p.Dir == dir {
			d := p.MeasNs - p.ActualNs
			e = append(e, float64(max(d, -d)))
		}
	}
	sort.Float64s(e)
	return e
}

// Quantile returns the q-quantile of sorted xs (NaN-free; 0 when empty).
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, int(q*float64(len(xs))))]
}

// Compare matches inferred connections to the ground truth by client
// address and port. quiet is the engine's quiet time; wire, when not nil,
// is what the capture shows (ReadWire): it fills Result.Wire and explains
// merges by the pauses on the wire.
func Compare(truth map[netip.AddrPort]*TruthConn, inf map[netip.AddrPort]*InferredConn, quiet time.Duration, wire *Wire) *Result {
	r := &Result{ByMode: map[Mode][2]int{}, SizesTrue: map[string][]float64{}, SizesMeas: map[string][]float64{},
		ThinkTrue: map[string][]float64{}, ThinkMeas: map[string][]float64{}}
	keys := make([]netip.AddrPort, 0, len(truth))
	for k := range truth {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b netip.AddrPort) int { return a.Compare(b) })
	for _, k := range keys {
		t := truth[k]
		r.Conns++
		for _, a := range t.ADUs {
			r.SizesTrue[a.Dir] = append(r.SizesTrue[a.Dir], float64(a.Size))
			if a.ThinkNs >= 0 {
				r.ThinkTrue[a.Dir] = append(r.ThinkTrue[a.Dir], float64(a.ThinkNs))
			}
		}
		c := inf[k]
		if c == nil {
			c = &InferredConn{Client: k}
		} else {
			r.Matched++
			if c.RTTNs >= 0 {
				r.RTTNs = append(r.RTTNs, float64(c.RTTNs))
			}
		}
		for _, a := range c.ADUs {
			r.SizesMeas[a.Dir.String()] = append(r.SizesMeas[a.Dir.String()], float64(a.Size))
			if a.Kind == ingest.KindADU && a.ThinkNs >= 0 {
				r.ThinkMeas[a.Dir.String()] = append(r.ThinkMeas[a.Dir.String()], float64(a.ThinkNs))
			}
		}
		bm := r.ByMode[t.Mode]
		bm[0]++
		exact := vector(t) == inferredVector(c)
		if exact {
			r.Exact++
			bm[1]++
			for i, a := range t.ADUs {
				// Think times are compared where both readings define them
				// alike: a concurrent connection read sequentially (its
				// sides never overlapped) measures a different gap.
				g := &c.ADUs[i]
				if a.ThinkNs >= 0 && g.ThinkNs >= 0 && g.Kind == ingest.KindADU && g.Concurrent == t.Mode.Concurrent() {
					r.Think = append(r.Think, ThinkPair{Dir: a.Dir, ActualNs: a.ThinkNs, MeasNs: g.ThinkNs})
				}
			}
		}
		r.ByMode[t.Mode] = bm
		if t.Mode.Concurrent() {
			r.concurrent(t, c, quiet, exact)
			if wire != nil {
				r.wire(t, c, quiet, wire)
			}
		}
		if !exact {
			r.Mismatches = append(r.Mismatches, explain(t, c, quiet, wire))
		}
	}
	return r
}

func vector(t *TruthConn) string {
	s := ""
	for _, a := range t.ADUs {
		s += fmt.Sprintf("%s:%d ", a.Dir, a.Size)
	}
	return s
}

func inferredVector(c *InferredConn) string {
	s := ""
	for _, a := range c.ADUs {
		s += fmt.Sprintf("%s:%d ", a.Dir, a.Size)
		if a.Kind == ingest.KindINC {
			s = s[:len(s)-1] + "(INC) "
		}
	}
	return s
}

type span struct{ off, end int64 }

// spans returns the inferred ADUs of dir as byte ranges of that direction.
func spans(c *InferredConn, dir string) map[span]*ingest.Record {
	m := map[span]*ingest.Record{}
	var off int64
	for i := range c.ADUs {
		a := &c.ADUs[i]
		if a.Dir.String() != dir {
			continue
		}
		m[span{off, off + int64(a.Size)}] = a
		off += int64(a.Size)
	}
	return m
}

func (r *Result) concurrent(t *TruthConn, c *InferredConn, quiet time.Duration, exact bool) {
	for _, dir := range []string{"c2s", "s2c"} {
		var idx []int
		for i, a := range t.ADUs {
			if a.Dir == dir {
				idx = append(idx, i)
			}
		}
		got := spans(c, dir)
		for j, i := range idx {
			a := t.ADUs[i]
			iso := true
			if j > 0 && a.FirstNs-t.ADUs[idx[j-1]].LastNs <= int64(quiet) {
				iso = false
			}
			if j+1 < len(idx) && t.ADUs[idx[j+1]].FirstNs-a.LastNs <= int64(quiet) {
				iso = false
			}
			if !iso {
				r.ShortPauses++
				continue
			}
			r.Isolated++
			if g, ok := got[span{a.Off, a.Off + a.Size}]; ok && g.Dir.String() == dir {
				r.Recovered++
			}
		}
	}
	if exact {
		return
	}
}

// explain compares the ADU boundaries of each direction, as byte offsets,
// and attributes each difference to a cause.
func explain(t *TruthConn, c *InferredConn, quiet time.Duration, wire *Wire) Mismatch {
	m := Mismatch{Client: t.Client, Mode: t.Mode, Truth: vector(t), Inferred: inferredVector(c), Explained: true}
	if len(c.ADUs) == 0 && len(t.ADUs) > 0 && c.End == nil {
		m.Causes = append(m.Causes, "connection not seen at the monitor")
		m.Explained = false
		return m
	}
	for _, dir := range []string{"c2s", "s2c"} {
		causes, ok := explainDir(t, c, dir, quiet, wire)
		m.Causes = append(m.Causes, causes...)
		m.Explained = m.Explained && ok
	}
	if len(m.Causes) == 0 {
		m.Causes = append(m.Causes, "same boundaries per direction, different order of directions")
		m.Explained = t.Mode.Concurrent()
	}
	sort.Strings(m.Causes)
	return m
}

// explainDir compares the ADU boundaries of direction dir, as byte
// offsets, and attributes each difference to a cause; ok is false when a
// difference has none the method explains.
func explainDir(t *TruthConn, c *InferredConn, dir string, quiet time.Duration, wire *Wire) (causes []string, ok bool) {
	ok = true
	q := int64(quiet)
	tb := map[int64]int{} // boundary offset -> index of truth ADU starting there
	var tEnd int64
	for i, a := range t.ADUs {
		if a.Dir == dir {
			if a.Off > 0 {
				tb[a.Off] = i
			}
			tEnd = a.Off + a.Size
		}
	}
	ib := map[int64]*ingest.Record{}
	var iEnd int64
	for i := range c.ADUs {
		a := &c.ADUs[i]
		if a.Dir.String() != dir {
			continue
		}
		if iEnd > 0 {
			ib[iEnd] = a
		}
		iEnd += int64(a.Size)
	}
	if tEnd != iEnd {
		causes = append(causes, fmt.Sprintf("%s: %d bytes written, %d inferred", dir, tEnd, iEnd))
		ok = false
	}
	for off, a := range ib {
		if _, ok := tb[off]; ok {
			continue
		}
		ta := truthAt(t, dir, off)
		if ta == nil {
			causes = append(causes, fmt.Sprintf("%s: boundary at byte %d beyond the written data", dir, off))
			ok = false
			continue
		}
		w, pause, _ := ta.WriteAt(off)
		late := a.FirstNs - w
		switch {
		case pause > q:
			causes = append(causes, fmt.Sprintf("%s split at byte %d: the application paused %s between writes (longer than the quiet time)", dir, off, dur(pause)))
		case late > q:
			causes = append(causes, fmt.Sprintf("%s split at byte %d: written at %s, first seen at the monitor %s later — a loss before the monitor retransmitted after more than the quiet time (retransmission timeout longer than the quiet time)", dir, off, stamp(w), dur(late)))
		case t.Mode.Concurrent():
			causes = append(causes, fmt.Sprintf("%s split at byte %d: the other side's data ended the ADU before the connection was found concurrent", dir, off))
			ok = false
		default:
			causes = append(causes, fmt.Sprintf("%s split at byte %d: written at %s, seen %s later; no cause found", dir, off, stamp(w), dur(late)))
			ok = false
		}
	}
	for off, i := range tb {
		if _, ok := ib[off]; ok || off >= iEnd {
			continue
		}
		a := t.ADUs[i]
		prev := truthAt(t, dir, off-1)
		gap := a.FirstNs - prev.LastNs
		if t.Mode.Concurrent() && gap <= q {
			causes = append(causes, fmt.Sprintf("%s ADUs merged at byte %d: a concurrent pause of %s, not longer than the quiet time", dir, off, dur(gap)))
			continue
		}
		if wire != nil {
			// The application paused longer than the quiet time, but its
			// TCP sent the earlier bytes late (loss recovery, a full
			// window, a retransmission): what the monitor saw is the pause
			// on the wire, from the last sighting of the earlier byte to
			// the first of the later one.
			_, before, ok1 := wire.Seen(t.Client, dir == "c2s", off-1)
			at, _, ok2 := wire.Seen(t.Client, dir == "c2s", off)
			if ok1 && ok2 && at-before <= q {
				causes = append(causes, fmt.Sprintf("%s ADUs merged at byte %d: the application paused %s, but the wire only %s (the earlier bytes were sent late), not longer than the quiet time", dir, off, dur(gap), dur(at-before)))
				continue
			}
		}
		causes = append(causes, fmt.Sprintf("%s ADUs merged at byte %d (application pause %s); no cause found", dir, off, dur(gap)))
		ok = false
	}
	return causes, ok
}

// wire scores a concurrent connection by what the wire showed (see
// WireScore).
func (r *Result) wire(t *TruthConn, c *InferredConn, quiet time.Duration, wire *Wire) {
	if r.Wire == nil {
		r.Wire = map[string]*WireScore{}
	}
	fam := "IPv4"
	if t.Client.Addr().Is6() {
		fam = "IPv6"
	}
	w := r.Wire[fam]
	if w == nil {
		w = &WireScore{}
		r.Wire[fam] = w
	}
	if !wire.Overlap[t.Client] {
		w.Hidden++
		return
	}
	w.Detectable++
	for _, dir := range []string{"c2s", "s2c"} {
		if !slices.ContainsFunc(t.ADUs, func(a TruthADU) bool { return a.Dir == dir && a.Size > 0 }) {
			continue
		}
		w.Dirs++
		if _, ok := explainDir(t, c, dir, quiet, wire); ok {
			w.DirsExact++
		}
	}
}

func truthAt(t *TruthConn, dir string, off int64) *TruthADU {
	for i := range t.ADUs {
		a := &t.ADUs[i]
		if a.Dir == dir && off >= a.Off && off < a.Off+a.Size {
			return a
		}
	}
	return nil
}

func dur(ns int64) string { return time.Duration(ns).Round(10 * time.Microsecond).String() }

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format("15:04:05.000000") }
