package validate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Mode is how the two sides of a synthetic connection take turns.
type Mode string

// Modes.
const (
	// ModeSeq: the sides take turns; each ADU starts after the previous one
	// (of the other side) was read completely and a think time has passed.
	ModeSeq Mode = "seq"
	// ModeConc: both sides send their ADUs without waiting for the other.
	ModeConc Mode = "conc"
	// ModeMix: each connection is drawn as sequential or concurrent.
	ModeMix Mode = "mix"
	// ModePipe: the client sends its requests without waiting for the
	// responses (pipelining: each request Gap after its previous one's last
	// write), and the server answers each request in order, Think after
	// reading it completely: requests go out over responses in flight.
	ModePipe Mode = "pipe"
)

// Concurrent reports whether the mode's two sides may send at once, so
// that its ADUs are ordered by first write and a think time is the gap to
// the same direction's next ADU.
func (m Mode) Concurrent() bool { return m == ModeConc || m == ModePipe }

// Range is an inclusive range of integers drawn uniformly.
type Range struct{ Min, Max int64 }

// String formats the range as MIN:MAX.
func (r Range) String() string { return fmt.Sprintf("%d:%d", r.Min, r.Max) }

// Set parses MIN:MAX (or a single value); it implements pflag.Value.
func (r *Range) Set(s string) error {
	lo, hi, ok := strings.Cut(s, ":")
	if !ok {
		hi = lo
	}
	a, err := strconv.ParseInt(lo, 10, 64)
	if err != nil {
		return fmt.Errorf("parse range %q: %w", s, err)
	}
	b, err := strconv.ParseInt(hi, 10, 64)
	if err != nil {
		return fmt.Errorf("parse range %q: %w", s, err)
	}
	if a < 0 || b < a {
		return fmt.Errorf("range %q: want 0 <= MIN <= MAX", s)
	}
	r.Min, r.Max = a, b
	return nil
}

// Type names the flag type for help text.
func (r *Range) Type() string { return "min:max" }

func (r Range) draw(g *rand.Rand) int64 { return r.Min + g.Int64N(r.Max-r.Min+1) }

// DurRange is an inclusive range of durations drawn uniformly.
type DurRange struct{ Min, Max time.Duration }

// String formats the range as MIN:MAX Go durations.
func (r DurRange) String() string { return r.Min.String() + ":" + r.Max.String() }

// Set parses MIN:MAX Go durations (or a single one); it implements pflag.Value.
func (r *DurRange) Set(s string) error {
	lo, hi, ok := strings.Cut(s, ":")
	if !ok {
		hi = lo
	}
	a, err := time.ParseDuration(lo)
	if err != nil {
		return fmt.Errorf("parse duration range %q: %w", s, err)
	}
	b, err := time.ParseDuration(hi)
	if err != nil {
		return fmt.Errorf("parse duration range %q: %w", s, err)
	}
	if a < 0 || b < a {
		return fmt.Errorf("duration range %q: want 0 <= MIN <= MAX", s)
	}
	r.Min, r.Max = a, b
	return nil
}

// Type names the flag type for help text.
func (r *DurRange) Type() string { return "min:max" }

func (r DurRange) draw(g *rand.Rand) time.Duration {
	return r.Min + time.Duration(g.Int64N(int64(r.Max-r.Min)+1))
}

// Params are the ranges a dialog is drawn from. Client and server must be
// given the same Params: each derives a connection's plan from Seed and the
// client's port, so nothing but the dialog itself crosses the wire.
type Params struct {
	Seed  uint64
	Mode  Mode
	ADUs  Range // ADUs per connection (sequential) or per direction (concurrent)
	Size  Range // ADU size in bytes: uniform in the range, or Pareto with scale Min capped at Max
	Heavy bool  // Pareto (heavy-tailed) sizes instead of uniform
	Alpha float64
	// Think is the pause of the side about to send, after it read the
	// other side's ADU completely (sequential).
	Think DurRange
	// Gap is the pause before each ADU of one direction, after that
	// direction's previous ADU (concurrent).
	Gap        DurRange
	WriteSize  Range    // bytes per write call
	WriteDelay DurRange // pause between two write calls of one ADU
	RSTFrac    float64  // fraction of connections the client aborts with a RST
	EmptyFrac  float64  // fraction of connections that send nothing
}

// DefaultParams returns the sequential defaults of the validation run.
func DefaultParams() Params {
	return Params{
		Seed: 1, Mode: ModeSeq, ADUs: Range{1, 12}, Size: Range{1, 20000}, Alpha: 1.2,
		Think: DurRange{0, 300 * time.Millisecond}, Gap: DurRange{0, 2 * time.Second},
		WriteSize: Range{200, 8192}, WriteDelay: DurRange{0, 20 * time.Millisecond},
		RSTFrac: 0.1, EmptyFrac: 0.05,
	}
}

// Validate checks the ranges.
func (p *Params) Validate() error {
	switch p.Mode {
	case ModeSeq, ModeConc, ModeMix, ModePipe:
	default:
		return fmt.Errorf("mode %q: want seq, conc, mix or pipe", p.Mode)
	}
	if p.Size.Min < 1 || p.WriteSize.Min < 1 {
		return errors.New("sizes must be at least 1 byte")
	}
	if p.Heavy && p.Alpha <= 0 {
		return errors.New("pareto alpha must be positive")
	}
	if p.RSTFrac < 0 || p.EmptyFrac < 0 || p.RSTFrac+p.EmptyFrac > 1 {
		return errors.New("rst and empty fractions must be in [0,1] and sum to at most 1")
	}
	return nil
}

// PlanADU is one ADU the applications will play.
type PlanADU struct {
	Dir  string // "c2s" or "s2c"
	Size int64
	// Pause is waited before the first write: the think time after the
	// other side's ADU (sequential) or the gap after the same direction's
	// previous ADU (concurrent).
	Pause  time.Duration
	Writes []int64         // sizes of the write calls, summing to Size
	Delays []time.Duration // Delays[i] is waited before Writes[i+1]
}

// Plan is the dialog of one connection.
type Plan struct {
	Mode Mode
	RST  bool // the client aborts the connection with a RST at the end
	// ADUs in the order they start (sequential), or per direction in
	// order (concurrent: filter by Dir), or request and response in turn
	// (pipelined).
	ADUs []PlanADU
}

// NewPlan draws the plan of the connection from client port port.
func NewPlan(p *Params, port uint16) Plan {
	g := rand.New(rand.NewPCG(p.Seed, uint64(port)))
	pl := Plan{Mode: p.Mode}
	if pl.Mode == ModeMix {
		pl.Mode = ModeSeq
		if g.IntN(2) == 1 {
			pl.Mode = ModeConc
		}
	}
	u := g.Float64()
	switch {
	case u < p.EmptyFrac:
		return pl
	case u < p.EmptyFrac+p.RSTFrac:
		pl.RST = true
	}
	switch pl.Mode {
	case ModeSeq:
		n := int(p.ADUs.draw(g))
		if pl.RST && n%2 == 1 {
			// A RST discards what is not yet delivered, so an aborted
			// connection ends with the server's ADU, read by the client.
			n++
		}
		for i := range n {
			d := "c2s"
			if i%2 == 1 {
				d = "s2c"
			}
			var pause time.Duration
			if i > 0 {
				pause = p.Think.draw(g)
			}
			pl.ADUs = append(pl.ADUs, p.adu(g, d, pause))
		}
	case ModeConc:
		for _, d := range []string{"c2s", "s2c"} {
			for range int(p.ADUs.draw(g)) {
				pl.ADUs = append(pl.ADUs, p.adu(g, d, p.Gap.draw(g)))
			}
		}
	case ModePipe:
		// Requests and responses alternate in the plan (request i, then
		// its response); the client writes the requests on their own.
		for i := range int(p.ADUs.draw(g)) {
			var gap time.Duration
			if i > 0 {
				gap = p.Gap.draw(g)
			}
			pl.ADUs = append(pl.ADUs, p.adu(g, "c2s", gap), p.adu(g, "s2c", p.Think.draw(g)))
		}
	}
	return pl
}

func (p *Params) adu(g *rand.Rand, dir string, pause time.Duration) PlanADU {
	a := PlanADU{Dir: dir, Pause: pause}
	if p.Heavy {
		x := float64(p.Size.Min) / math.Pow(1-g.Float64(), 1/p.Alpha)
		a.Size = min(int64(x), p.Size.Max)
	} else {
		a.Size = p.Size.draw(g)
	}
	for left := a.Size; left > 0; {
		w := min(p.WriteSize.draw(g), left)
		if len(a.Writes) > 0 {
			a.Delays = append(a.Delays, p.WriteDelay.draw(g))
		}
		a.Writes = append(a.Writes, w)
		left -= w
	}
	return a
}
