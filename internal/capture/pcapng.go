package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a // section header; a palindrome, so byte-order free
	blockIDB = 1          // interface description
	blockPB  = 2          // obsolete packet block
	blockSPB = 3          // simple packet
	blockEPB = 6          // enhanced packet
)

const (
	byteOrderMagic = 0x1a2b3c4d
	minBlockLen    = 12 // type, total length, trailing total length
	minSHBLen      = 28 // + byte-order magic, version, section length
	epbFixedLen    = 20 // interface, ts high, ts low, caplen, origlen (PB alike)
	optTsresol     = 9  // if_tsresol
	optTsoffset    = 14 // if_tsoffset
	defaultTsresol = 6  // microseconds, when an IDB has no if_tsresol
)

// pcapngIface is what we keep of an Interface Description Block.
type pcapngIface struct {
	link     LinkType
	snaplen  uint32 // 0 means unlimited
	tsresol  uint8  // raw if_tsresol: 10^-n s, or 2^-n s with the top bit set
	tsoffset int64  // if_tsoffset, seconds added to every timestamp
}

// pcapngReader reads pcapng files, section by section.
type pcapngReader struct {
	*base
	bigEndian bool
	started   bool          // the first SHB has been read
	ifaces    []pcapngIface // interfaces of the current section
	ifaceBase int           // global index of this section's interface 0
	lastTs    int64         // timestamp of the previous packet, for SPBs
}

func newPcapNGReader(b *base) (*pcapngReader, error) {
	r := &pcapngReader{base: b}
	hdr, err := r.br.peek(4)
	if err != nil {
		return nil, b.failHeader(0, readErr("pcapng section header", err))
	}
	if binary.BigEndian.Uint32(hdr) != blockSHB {
		return nil, b.failHeader(0, fmt.Errorf("bad pcapng magic % x", hdr))
	}
	if err := r.readSHB(); err != nil {
		return nil, err
	}
	r.started = true
	return r, nil
}

func (r *pcapngReader) u16(b []byte) uint16 {
	if r.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *pcapngReader) u32(b []byte) uint32 {
	if r.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// failAt reports a fault in a block starting at off. Faults in the first
// section header are file-header faults (packet 0).
func (r *pcapngReader) failAt(off int64, err error) error {
	if !r.started {
		return r.failHeader(off, err)
	}
	return r.fail(off, err)
}

// checkBlockLen validates a block total length.
func checkBlockLen(n uint32, minLen uint32) error {
	switch {
	case n < minLen:
		return fmt.Errorf("block total length %d below minimum %d", n, minLen)
	case n%4 != 0:
		return fmt.Errorf("block total length %d not a multiple of 4", n)
	case n > MaxBlockLen:
		return fmt.Errorf("%w: block total length %d exceeds %d", ErrAbsurdLength, n, MaxBlockLen)
	}
	return nil
}

// Next implements Source.
func (r *pcapngReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	for {
		off := r.br.off
		hdr, err := r.br.peek(8)
		if err != nil {
			if err == io.EOF {
				r.err = io.EOF
				return io.EOF
			}
			return r.fail(off, readErr("block header", err))
		}
		typ := r.u32(hdr)
		if typ == blockSHB {
			if err := r.readSHB(); err != nil {
				return err
			}
			continue
		}
		blen := r.u32(hdr[4:])
		if err := checkBlockLen(blen, minBlockLen); err != nil {
			return r.fail(off, err)
		}
		switch typ {
		case blockEPB, blockPB, blockSPB, blockIDB:
		default:
			if err := r.skipBlock(off, blen); err != nil {
				return err
			}
			continue
		}
		blk, err := r.br.peek(int(blen))
		if err != nil {
			return r.fail(off, readErr("block", err))
		}
		if t := r.u32(blk[blen-4:]); t != blen {
			return r.fail(off, fmt.Errorf("trailing block length %d does not match %d", t, blen))
		}
		body := blk[8 : blen-4]
		if typ == blockIDB {
			if err := r.readIDB(body); err != nil {
				return r.fail(off, err)
			}
			r.br.consume(int(blen))
			continue
		}
		if err := r.packet(typ, body, p); err != nil {
			return r.fail(off, err)
		}
		r.br.consume(int(blen))
		r.lastTs = p.TsNs
		r.account(p)
		return nil
	}
}

// skipBlock skips a block of no interest without buffering it whole, then
// checks its trailing length.
func (r *pcapngReader) skipBlock(off int64, blen uint32) error {
	if err := r.br.skip(int64(blen) - 4); err != nil {
		return r.fail(off, readErr("block", err))
	}
	t, err := r.br.peek(4)
	if err != nil {
		return r.fail(off, readErr("block trailer", err))
	}
	if v := r.u32(t); v != blen {
		return r.fail(off, fmt.Errorf("trailing block length %d does not match %d", v, blen))
	}
	r.br.consume(4)
	r.stats.Skipped++
	return nil
}

// readSHB reads a Section Header Block, which sets the byte order of the
// section and starts a fresh interface list.
func (r *pcapngReader) readSHB() error {
	off := r.br.off
	h, err := r.br.peek(16)
	if err != nil {
		return r.failAt(off, readErr("section header", err))
	}
	switch {
	case binary.BigEndian.Uint32(h[8:]) == byteOrderMagic:
		r.bigEndian = true
	case binary.LittleEndian.Uint32(h[8:]) == byteOrderMagic:
		r.bigEndian = false
	default:
		return r.failAt(off, fmt.Errorf("bad byte-order magic % x in section header", h[8:12]))
	}
	blen := r.u32(h[4:])
	if err := checkBlockLen(blen, minSHBLen); err != nil {
		return r.failAt(off, err)
	}
	if major, minor := r.u16(h[12:]), r.u16(h[14:]); major != 1 {
		return r.failAt(off, fmt.Errorf("unsupported pcapng version %d.%d", major, minor))
	}
	// SHB options (hardware, OS, application) are of no use here.
	if err := r.br.skip(int64(blen) - 4); err != nil {
		return r.failAt(off, readErr("section header", err))
	}
	t, err := r.br.peek(4)
	if err != nil {
		return r.failAt(off, readErr("section header trailer", err))
	}
	if v := r.u32(t); v != blen {
		return r.failAt(off, fmt.Errorf("trailing block length %d does not match %d", v, blen))
	}
	r.br.consume(4)
	r.ifaceBase += len(r.ifaces)
	r.ifaces = r.ifaces[:0]
	return nil
}

// readIDB parses an Interface Description Block body.
func (r *pcapngReader) readIDB(body []byte) error {
	if len(body) < 8 {
		return fmt.Errorf("interface description block body of %d bytes, want at least 8", len(body))
	}
	ifc := pcapngIface{
		link:    normalizeLink(LinkType(r.u16(body))),
		snaplen: r.u32(body[4:]),
		tsresol: defaultTsresol,
	}
	for opts := body[8:]; len(opts) >= 4; {
		code, n := r.u16(opts), int(r.u16(opts[2:]))
		if code == 0 { // opt_endofopt
			break
		}
		if 4+n > len(opts) {
			return fmt.Errorf("interface option %d of length %d overruns block", code, n)
		}
		val := opts[4 : 4+n]
		switch {
		case code == optTsresol && n >= 1:
			ifc.tsresol = val[0]
		case code == optTsoffset && n >= 8:
			if r.bigEndian {
				ifc.tsoffset = int64(binary.BigEndian.Uint64(val))
			} else {
				ifc.tsoffset = int64(binary.LittleEndian.Uint64(val))
			}
		}
		opts = opts[min(len(opts), 4+(n+3)&^3):]
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// packet fills p from an EPB, PB or SPB body.
func (r *pcapngReader) packet(typ uint32, body []byte, p *Packet) error {
	if typ == blockSPB {
		return r.simplePacket(body, p)
	}
	if len(body) < epbFixedLen {
		return fmt.Errorf("packet block body of %d bytes, want at least %d", len(body), epbFixedLen)
	}
	var id int
	if typ == blockPB {
		id = int(r.u16(body)) // then a 16-bit drops count
	} else {
		id = int(r.u32(body))
	}
	if id >= len(r.ifaces) {
		return fmt.Errorf("packet on interface %d, section has %d", id, len(r.ifaces))
	}
	ifc := &r.ifaces[id]
	caplen := r.u32(body[12:])
	if uint64(caplen) > uint64(len(body)-epbFixedLen) {
		return fmt.Errorf("captured length %d overruns block", caplen)
	}
	if ifc.snaplen != 0 && caplen > ifc.snaplen {
		r.stats.SnapLenExceeded++
	}
	ts := uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))
	tsNs, clamped := pcapngTsNs(ts, ifc.tsresol, ifc.tsoffset)
	if clamped {
		r.stats.TsClamped++
	}
	end := epbFixedLen + int(caplen)
	*p = Packet{
		Data:    body[epbFixedLen:end:end],
		TsNs:    tsNs,
		OrigLen: int(r.u32(body[16:])),
		Link:    ifc.link,
		Iface:   r.ifaceBase + id,
	}
	return nil
}

// simplePacket fills p from a Simple Packet Block. SPBs belong to the
// section's first interface and carry no timestamp: p gets the previous
// packet's (0 for the first packet of the stream), so time never runs
// backwards because of them.
func (r *pcapngReader) simplePacket(body []byte, p *Packet) error {
	if len(r.ifaces) == 0 {
		return fmt.Errorf("simple packet block before any interface description")
	}
	if len(body) < 4 {
		return fmt.Errorf("simple packet block body of %d bytes, want at least 4", len(body))
	}
	ifc := &r.ifaces[0]
	orig := r.u32(body)
	// The captured length is implied: the original length, cut by the snap
	// length and by the block.
	caplen := min(uint64(orig), uint64(len(body)-4))
	if ifc.snaplen != 0 {
		caplen = min(caplen, uint64(ifc.snaplen))
	}
	end := 4 + int(caplen)
	*p = Packet{
		Data:    body[4:end:end],
		TsNs:    r.lastTs,
		OrigLen: int(orig),
		Link:    ifc.link,
		Iface:   r.ifaceBase,
	}
	r.stats.SPBTimeBorrowed++
	return nil
}

// pow10 holds 10^0 … 10^19, every power of ten that fits in a uint64.
var pow10 = [...]uint64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

// pcapngTsNs converts a pcapng timestamp (ts units of if_tsresol res, plus
// offset seconds) to nanoseconds since the epoch. Intermediate products use
// 128 bits, so nothing wraps; a result outside int64 is clamped to
// math.MaxInt64 or math.MinInt64 and reported with clamped = true.
// Resolutions finer than a nanosecond are truncated towards zero.
func pcapngTsNs(ts uint64, res uint8, offset int64) (ns int64, clamped bool) {
	var u uint64
	var over bool
	if res&0x80 != 0 {
		// 2^-p seconds per unit: ns = ts * 1e9 / 2^p.
		p := uint(res & 0x7f)
		hi, lo := bits.Mul64(ts, 1e9)
		switch {
		case p == 0:
			u, over = lo, hi != 0
		case p < 64:
			u, over = hi<<(64-p)|lo>>p, hi>>p != 0
		default: // p < 128
			u = hi >> (p - 64)
		}
	} else {
		e := int(res)
		switch {
		case e <= 9:
			var hi uint64
			hi, u = bits.Mul64(ts, pow10[9-e])
			over = hi != 0
		case e-9 < len(pow10):
			u = ts / pow10[e-9]
		default:
			u = 0 // a unit below 10^-28 s: every uint64 count is < 1 ns
		}
	}
	if over || u > math.MaxInt64 {
		return math.MaxInt64, true
	}
	ns = int64(u)
	if offset == 0 {
		return ns, false
	}
	switch {
	case offset > math.MaxInt64/int64(1e9):
		return math.MaxInt64, true
	case offset < math.MinInt64/int64(1e9):
		return math.MinInt64, true
	}
	off := offset * 1e9
	if off > 0 && ns > math.MaxInt64-off {
		return math.MaxInt64, true
	}
	// ns >= 0 and off >= MinInt64, so ns+off cannot underflow.
	return ns + off, false
}
