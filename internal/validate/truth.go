package validate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
)

// LogWrite is one write call: its size and when it returned (ns since the
// Unix epoch, wall clock).
type LogWrite struct {
	N  int64 `json:"n"`
	Ns int64 `json:"ns"`
}

// LogADU is one ADU as one side saw it: written (Writes set) or read
// (ReadNs set: when its last byte was read).
type LogADU struct {
	I      int        `json:"i"` // position in the plan
	Dir    string     `json:"dir"`
	Size   int64      `json:"size"`
	Writes []LogWrite `json:"writes,omitempty"`
	ReadNs int64      `json:"read_ns,omitempty"`
}

// Side is what one application logs for one connection: a JSON line.
type Side struct {
	Side   string   `json:"side"` // "client" or "server"
	Client string   `json:"client"`
	Server string   `json:"server"`
	Mode   Mode     `json:"mode"`
	RST    bool     `json:"rst"`
	ADUs   []LogADU `json:"adus"`
	Err    string   `json:"err,omitempty"`
}

// TruthADU is one ADU of the ground truth.
type TruthADU struct {
	Dir     string
	Size    int64
	Off     int64 // offset of its first byte in its direction's stream
	FirstNs int64 // first write returned
	LastNs  int64 // last write returned
	ReadNs  int64 // the receiver read its last byte (0 if unknown)
	// ThinkNs is the think time after the ADU, -1 if none: sequential, from
	// the receiver's read of its last byte to the receiver's first write of
	// the next ADU; concurrent, from its last write to the first write of the
	// same direction's next ADU.
	ThinkNs int64
	Writes  []LogWrite
}

// TruthConn is the ground truth of one connection.
type TruthConn struct {
	Client netip.AddrPort
	Server netip.AddrPort
	Mode   Mode
	RST    bool
	ADUs   []TruthADU
	Err    string // an application error (either side), if any
}

// LoadTruth reads client and server logs (JSON lines of Side) and merges
// them by client address and port.
func LoadTruth(paths ...string) (map[netip.AddrPort]*TruthConn, error) {
	type pair struct{ c, s *Side }
	sides := map[netip.AddrPort]*pair{}
	for _, p := range paths {
		if err := readSides(p, func(s *Side) error {
			ap, err := netip.ParseAddrPort(s.Client)
			if err != nil {
				return fmt.Errorf("parse client %q: %w", s.Client, err)
			}
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			if sides[ap] == nil {
				sides[ap] = &pair{}
			}
			switch s.Side {
			case "client":
				sides[ap].c = s
			case "server":
				sides[ap].s = s
			default:
				return fmt.Errorf("side %q: want client or server", s.Side)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	out := make(map[netip.AddrPort]*TruthConn, len(sides))
	for ap, p := range sides {
		if p.c == nil || p.s == nil {
			// A connection one side never logged (the client could not
			// connect, or the server never accepted): no ground truth.
			continue
		}
		t, err := merge(p.c, p.s)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", ap, err)
		}
		t.Client = ap
		out[ap] = t
	}
	return out, nil
}

func readSides(path string, fn func(*Side) error) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open truth log: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var s Side
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return fmt.Errorf("%s:%d: parse: %w", path, line, err)
		}
		if err := fn(&s); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func merge(c, s *Side) (*TruthConn, error) {
	srv, err := netip.ParseAddrPort(s.Server)
	if err != nil {
		return nil, fmt.Errorf("parse server %q: %w", s.Server, err)
	}
	t := &TruthConn{Server: netip.AddrPortFrom(srv.Addr().Unmap(), srv.Port()), Mode: c.Mode, RST: c.RST}
	switch {
	case c.Err != "" && s.Err != "":
		t.Err = "client: " + c.Err + "; server: " + s.Err
	case c.Err != "":
		t.Err = "client: " + c.Err
	case s.Err != "":
		t.Err = "server: " + s.Err
	}
	byI := map[int]*TruthADU{}
	var order []int
	for _, side := range []*Side{c, s} {
		for _, a := range side.ADUs {
			ta := byI[a.I]
			if ta == nil {
				ta = &TruthADU{Dir: a.Dir, Size: a.Size, ThinkNs: -1}
				byI[a.I] = ta
				order = append(order, a.I)
			}
			if len(a.Writes) > 0 {
				ta.Writes = a.Writes
				ta.FirstNs, ta.LastNs = a.Writes[0].Ns, a.Writes[len(a.Writes)-1].Ns
			}
			if a.ReadNs != 0 {
				ta.ReadNs = a.ReadNs
			}
		}
	}
	sort.Ints(order)
	off := map[string]int64{}
	for _, i := range order {
		a := byI[i]
		if len(a.Writes) == 0 {
			continue // planned but never written (the connection failed)
		}
		a.Off = off[a.Dir]
		off[a.Dir] += a.Size
		t.ADUs = append(t.ADUs, *a)
	}
	if t.Mode.Concurrent() {
		// Both sides wrote at once: the vector is in order of first write,
		// as the engine orders ADUs by their first data.
		sort.SliceStable(t.ADUs, func(i, j int) bool { return t.ADUs[i].FirstNs < t.ADUs[j].FirstNs })
	}
	switch {
	case t.Mode == ModeSeq:
		for i := 0; i+1 < len(t.ADUs); i++ {
			if r := t.ADUs[i].ReadNs; r != 0 && t.ADUs[i+1].Dir != t.ADUs[i].Dir {
				t.ADUs[i].ThinkNs = t.ADUs[i+1].FirstNs - r
			}
		}
	case t.Mode.Concurrent():
		last := map[string]int{}
		for i := range t.ADUs {
			if j, ok := last[t.ADUs[i].Dir]; ok {
				t.ADUs[j].ThinkNs = t.ADUs[i].FirstNs - t.ADUs[j].LastNs
			}
			last[t.ADUs[i].Dir] = i
		}
	}
	return t, nil
}

// WriteAt returns the time of the write that carried byte off of the ADU's
// direction, and the pause the sender took before that write (0 for the
// ADU's first write).
func (a *TruthADU) WriteAt(off int64) (ns, pause int64, ok bool) {
	pos := a.Off
	for i, w := range a.Writes {
		if off >= pos && off < pos+w.N {
			if i > 0 {
				pause = w.Ns - a.Writes[i-1].Ns
			}
			return w.Ns, pause, true
		}
		pos += w.N
	}
	return 0, 0, false
}
