package ingest

// Sequence numbers are 32-bit and wrap. Each direction keeps its position
// as a 64-bit byte offset from its base (the ISN+1, or the first sequence
// number seen), and a 32-bit sequence number is placed by its signed
// distance from that position (RFC 1982 serial arithmetic). Offsets
// therefore never wrap, ADUs larger than 4 GiB are sized correctly, and the
// 0xffffffff → 0 step is an ordinary increment.

// maxJump bounds a plausible forward or backward move of the sequence
// position: 2^30 is the largest window TCP can advertise (65535 << 14), so a
// sender can never be further than that ahead of what its peer acknowledged,
// nor retransmit anything older. A segment outside ±maxJump is a
// sequence-number anomaly (corruption, a different connection on the same
// 4-tuple, a middlebox rewriting numbers) and resynchronises the direction
// instead of leaving it stuck.
const maxJump = 1 << 30

// maxHoles is the number of distinct gaps a direction remembers so that late
// fillers count as recovered, not retransmitted.
const maxHoles = 4

type hole struct{ lo, hi uint64 } // [lo, hi) missing bytes

// holeSet is a direction's remembered holes. Most directions never have
// one, so it is allocated at the first (see memory.go).
type holeSet [maxHoles]hole

// seqSpace tracks one direction's sequence numbers.
type seqSpace struct {
	next  uint64   // offset just past the highest byte seen
	holes *holeSet // nil until the first hole
	base  uint32   // sequence number of offset 0
	nh    uint8    // holes in use
	valid bool     // base is set
}

// init sets offset 0 at sequence number base. The hole set, if the
// direction has one, is kept for reuse (and stays charged, see memory.go).
func (s *seqSpace) init(base uint32) {
	*s = seqSpace{base: base, valid: true, holes: s.holes}
}

// off returns the signed offset of seq relative to the base, placed within
// ±2^31 of the current position.
func (s *seqSpace) off(seq uint32) int64 {
	cur := s.base + uint32(s.next)
	return int64(s.next) + int64(int32(seq-cur))
}

// coverResult says how a data segment relates to what was already seen.
type coverResult struct {
	newBytes   uint64 // bytes beyond the previous high-water mark
	gapBytes   uint64 // unseen bytes skipped before this segment (a new hole)
	filled     uint64 // bytes that filled a remembered hole
	rexmtBytes uint64 // bytes seen before
	anomaly    bool   // outside ±maxJump: resynchronised
}

// cover records the data segment [start, start+n) and reports how it relates
// to the bytes seen before. start is the offset from off().
func (s *seqSpace) cover(start int64, n uint32) coverResult {
	var r coverResult
	end := start + int64(n)
	cur := int64(s.next)
	if start-cur > maxJump || cur-end > maxJump {
		r.anomaly = true
		return r
	}
	if start < 0 {
		// Bytes before the base (data in front of a missed SYN on a partial
		// connection, or a bogus segment): only the part at or after 0 counts.
		if end <= 0 {
			r.rexmtBytes = uint64(n)
			return r
		}
		r.rexmtBytes = uint64(-start)
		start = 0
	}
	if end <= cur {
		f := s.fill(uint64(start), uint64(end))
		r.filled = f
		r.rexmtBytes += uint64(end-start) - f
		return r
	}
	// Part or all of the segment is new.
	if start > cur {
		r.gapBytes = uint64(start - cur)
		s.addHole(uint64(cur), uint64(start))
	} else if start < cur {
		f := s.fill(uint64(start), uint64(cur))
		r.filled = f
		r.rexmtBytes += uint64(cur-start) - f
		start = cur
	}
	r.newBytes = uint64(end - start)
	s.next = uint64(end)
	return r
}

// advanceTo moves the high-water mark to offset o (a FIN or RST position
// beyond the data seen), counting the skipped bytes as missed.
func (s *seqSpace) advanceTo(o int64) uint64 {
	cur := int64(s.next)
	if o <= cur || o-cur > maxJump {
		return 0
	}
	s.addHole(uint64(cur), uint64(o))
	s.next = uint64(o)
	return uint64(o - cur)
}

// resync moves the position to offset o after an anomaly, forgetting holes.
func (s *seqSpace) resync(seq uint32) {
	s.base = seq - uint32(s.next)
	s.nh = 0
}

func (s *seqSpace) addHole(lo, hi uint64) {
	if s.holes == nil {
		s.holes = new(holeSet)
	}
	if s.nh == maxHoles {
		// Forget the oldest gap: its bytes stay counted as missed.
		copy(s.holes[:], s.holes[1:])
		s.nh--
	}
	s.holes[s.nh] = hole{lo, hi}
	s.nh++
}

// fill removes [lo, hi) from the remembered holes and returns how many bytes
// it filled.
func (s *seqSpace) fill(lo, hi uint64) uint64 {
	var filled uint64
	for i := 0; i < int(s.nh); i++ {
		h := s.holes[i]
		a, b := max(lo, h.lo), min(hi, h.hi)
		if a >= b {
			continue
		}
		filled += b - a
		switch {
		case a == h.lo && b == h.hi:
			copy(s.holes[i:], s.holes[i+1:s.nh])
			s.nh--
			i--
		case a == h.lo:
			s.holes[i].lo = b
		case b == h.hi:
			s.holes[i].hi = a
		default: // split in two
			if s.nh < maxHoles {
				copy(s.holes[i+2:], s.holes[i+1:s.nh])
				s.holes[i+1] = hole{b, h.hi}
				s.nh++
			}
			s.holes[i].hi = a
			i++
		}
	}
	return filled
}
