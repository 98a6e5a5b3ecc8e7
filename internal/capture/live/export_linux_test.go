package live

// RingFrames is how many frames each socket of s's fanout group read (nil
// without one).
func RingFrames(s *Source) []uint64 {
	if s.fan == nil {
		return nil
	}
	out := make([]uint64, len(s.fan.perRing))
	for i := range out {
		out[i] = s.fan.perRing[i].Load()
	}
	return out
}
