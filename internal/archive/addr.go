package archive

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"sync"
)

// addr is an IP address in a form without pointers (a netip.Addr holds
// one, for its zone), so that the rows holding addresses are never
// scanned by the garbage collector and spill to disk as their bytes.
type addr struct {
	// b is the address: IPv4 in b[:4], IPv6 in all 16; for addrZoned, the
	// address's index in its addrs table (little-endian, in b[:4]).
	b    [16]byte
	kind addrKind
}

// addrKind says what an addr's bytes are.
type addrKind uint8

const (
	addrInvalid addrKind = iota // the zero netip.Addr
	addrV4
	addrV6    // an IPv6 address without a zone
	addrZoned // an IPv6 address with a zone (only adudump text logs have them)
)

// textCacheSize bounds the texts of addresses an addrs keeps: when full,
// it starts again, so that a scan of millions of addresses costs the
// allocation of their texts, never memory that grows with them.
const textCacheSize = 1 << 16

// addrs turns addresses into addrs and back, and orders and prints addrs as
// their text (the text is what the archive stores and sorts on). One
// serves one run. It keeps the addresses an addr cannot hold, IPv6
// addresses with a zone, in a table: those come only from adudump text
// logs (packets carry no zone), a handful per log, so the table is not
// bounded; an addr of any other address holds the address itself, so
// that nothing here grows with the addresses of the traffic.
//
// The tables' writers use one addrs from several goroutines (the archive's
// and their background publishers: partition.Options.Background): the
// zoned table is guarded by mu, and the cache of texts is each converting
// goroutine's own (textCache).
type addrs struct {
	mu      sync.RWMutex
	zoned   []netip.Addr
	zonedID map[netip.Addr]uint32
}

// textCache keeps the texts of recently printed addresses, for one
// goroutine.
type textCache map[addr]string

// of returns a as an addr.
func (t *addrs) of(a netip.Addr) addr {
	var r addr
	switch {
	case a.Is4():
		r.kind = addrV4
		b := a.As4()
		copy(r.b[:], b[:])
	case a.Is6() && a.Zone() == "":
		r.kind = addrV6
		r.b = a.As16()
	case a.Is6():
		r.kind = addrZoned
		t.mu.Lock()
		defer t.mu.Unlock()
		id, ok := t.zonedID[a]
		if !ok {
			if t.zonedID == nil {
				t.zonedID = map[netip.Addr]uint32{}
			}
			id = uint32(len(t.zoned))
			t.zoned = append(t.zoned, a)
			t.zonedID[a] = id
		}
		r.b[0], r.b[1], r.b[2], r.b[3] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
	}
	return r
}

// addr returns a as a netip.Addr.
func (t *addrs) addr(a addr) netip.Addr {
	switch a.kind {
	case addrV4:
		return netip.AddrFrom4([4]byte(a.b[:4]))
	case addrV6:
		return netip.AddrFrom16(a.b)
	case addrZoned:
		t.mu.RLock()
		defer t.mu.RUnlock()
		return t.zoned[uint32(a.b[0])|uint32(a.b[1])<<8|uint32(a.b[2])<<16|uint32(a.b[3])<<24]
	}
	return netip.Addr{}
}

// appendText appends a's text (netip.Addr's String) to dst.
func (t *addrs) appendText(dst []byte, a addr) []byte {
	if a.kind == addrInvalid {
		return append(dst, netip.Addr{}.String()...)
	}
	return t.addr(a).AppendTo(dst)
}

// textOf returns a's text, as netip.Addr's String does, from the cache c
// when it was printed recently: most rows cost no allocation for their
// endpoints.
func (t *addrs) textOf(c *textCache, a addr) string {
	if s, ok := (*c)[a]; ok {
		return s
	}
	if *c == nil || len(*c) >= textCacheSize {
		*c = make(textCache, 1<<12)
	}
	s := t.addr(a).String()
	(*c)[a] = s
	return s
}

// cmp orders addrs as strings.Compare orders their texts. Two IPv4
// addresses (most pairs) compare without their texts.
func (t *addrs) cmp(a, b addr) int {
	if a == b {
		return 0 // the same address, the same text; and only then
	}
	if a.kind == addrV4 && b.kind == addrV4 {
		return cmp.Compare(v4Order(a), v4Order(b))
	}
	var x, y [64]byte
	return bytes.Compare(t.appendText(x[:0], a), t.appendText(y[:0], b))
}

// octetOrder[n] is the rank of n's decimal text among those of 0..255 in
// string order ("0" < "1" < "10" < "100" < "101" < ... < "99").
var octetOrder = func() [256]uint8 {
	var texts [256]string
	for i := range texts {
		texts[i] = strconv.Itoa(i)
	}
	byText := make([]int, 256)
	for i := range byText {
		byText[i] = i
	}
	slices.SortFunc(byText, func(a, b int) int { return cmp.Compare(texts[a], texts[b]) })
	var o [256]uint8
	for rank, n := range byText {
		o[n] = uint8(rank)
	}
	return o
}()

// v4Order is an IPv4 addr's place in the string order of IPv4 texts:
// comparing two texts compares their first octets' texts, and when one
// is a prefix of the other ("1" and "10") the shorter text is followed by
// a dot or the end, both before any digit, so it comes first: the string
// order of dotted quads is the order of their octets' ranks.
func v4Order(a addr) uint32 {
	return uint32(octetOrder[a.b[0]])<<24 | uint32(octetOrder[a.b[1]])<<16 | uint32(octetOrder[a.b[2]])<<8 | uint32(octetOrder[a.b[3]])
}
