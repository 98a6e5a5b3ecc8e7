package adutext

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// lineType is the record type a log line names. It differs from
// ingest.Kind in having SAK, which has no record kind.
type lineType uint8

const (
	lineSYN lineType = iota
	lineSAK
	lineRTT
	lineSEQ
	lineCNC // CNC (later dialect) or CONC (TMA 2008)
	linePART
	lineADU
	lineINC
	lineEND
)

var lineTypes = map[string]lineType{
	"SYN:": lineSYN, "SAK:": lineSAK, "RTT:": lineRTT, "SEQ:": lineSEQ, "CNC:": lineCNC,
	"CONC:": lineCNC, "PART:": linePART, "ADU:": lineADU, "INC:": lineINC, "END:": lineEND,
}

// lineNames are the names of the line types in error messages.
var lineNames = [...]string{"SYN", "SAK", "RTT", "SEQ", "CNC", "PART", "ADU", "INC", "END"}

// logLine is one parsed line.
type logLine struct {
	typ     lineType
	ts      int64 // ns since the epoch; unset when untimed
	untimed bool  // "X.X" (INC only)
	a, b    netip.AddrPort
	dir     byte   // '>' a→b, '<' b→a, 'x' connection-level
	size    uint64 // ADU, INC
	conc    bool   // ADU, INC: CONC rather than SEQ
	think   int64  // ADU: ns, -1 if absent
	rtt     int64  // RTT: ns
}

// maxSeconds bounds times, think times and RTTs (year 2096), so that
// differences of two of them cannot overflow int64 nanoseconds.
const maxSeconds = 4_000_000_000

// maxFields is the most fields a line can have: type, time, endpoint,
// direction, endpoint, size, SEQ|CONC, think time, ordinal.
const maxFields = 9

// parseLine parses a non-blank, non-comment line (without terminator) into l.
func parseLine(line []byte, l *logLine) error {
	var buf [maxFields + 1][]byte
	f := splitFields(line, buf[:0])
	if len(f) > maxFields {
		return fmt.Errorf("too many fields (%d)", len(f))
	}
	typ, ok := lineTypes[string(f[0])]
	if !ok {
		return fmt.Errorf("bad record type %s", quote(f[0]))
	}
	name := lineNames[typ]
	if len(f) < 5 {
		return fmt.Errorf("missing fields: %s line has %d of at least 5", name, len(f))
	}
	*l = logLine{typ: typ, think: -1}
	if typ == lineINC && string(f[1]) == "X.X" {
		l.untimed = true
	} else if l.ts, ok = parseSeconds(f[1], true); !ok {
		return fmt.Errorf("bad time %s", quote(f[1]))
	}
	if l.a, ok = parseEndpoint(f[2]); !ok {
		return fmt.Errorf("bad address %s", quote(f[2]))
	}
	if l.dir, ok = parseDir(f[3]); !ok {
		return fmt.Errorf("bad direction %s", quote(f[3]))
	}
	if l.b, ok = parseEndpoint(f[4]); !ok {
		return fmt.Errorf("bad address %s", quote(f[4]))
	}
	if l.dir == 'x' {
		switch typ {
		case lineSEQ, lineCNC, lineEND:
		default:
			// These lines are about a segment or an ADU: they need its direction.
			return fmt.Errorf("bad direction %s for %s", quote(f[3]), name)
		}
	}
	rest := f[5:]
	switch typ {
	case lineRTT:
		if len(rest) == 0 {
			return errors.New("missing fields: RTT line without its RTT")
		}
		if l.rtt, ok = parseSeconds(rest[0], false); !ok {
			return fmt.Errorf("bad RTT %s", quote(rest[0]))
		}
		rest = rest[1:]
	case lineADU, lineINC:
		if len(rest) < 2 {
			return fmt.Errorf("missing fields: %s line without size and SEQ or CONC", name)
		}
		size := bytes.TrimPrefix(rest[0], []byte{'+'}) // '+': at least (partial connection)
		if l.size, ok = parseDecimal(size); !ok {
			return fmt.Errorf("bad %s size %s", name, quote(rest[0]))
		}
		switch string(rest[1]) {
		case "SEQ":
		case "CONC":
			l.conc = true
		default:
			return fmt.Errorf("bad %s mode %s (want SEQ or CONC)", name, quote(rest[1]))
		}
		rest = rest[2:]
		// Then, for an ADU, an optional think time; for both an optional
		// ordinal. A single field with exactly six decimals is a think time.
		if typ == lineADU && len(rest) > 0 && (len(rest) == 2 || !isOrdinal(rest[0]) || isSeconds(rest[0])) {
			if l.think, ok = parseSeconds(rest[0], false); !ok {
				return fmt.Errorf("bad think time %s", quote(rest[0]))
			}
			rest = rest[1:]
		}
		if len(rest) > 0 {
			if !isOrdinal(rest[0]) {
				return fmt.Errorf("bad ordinal %s", quote(rest[0]))
			}
			rest = rest[1:]
		}
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected field %s after %s line", quote(rest[0]), name)
	}
	return nil
}

// splitFields appends the fields of line, separated by runs of spaces and
// tabs, to f; it stops after maxFields+1 fields.
func splitFields(line []byte, f [][]byte) [][]byte {
	i := 0
	for len(f) <= maxFields {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		f = append(f, line[i:j])
		i = j
	}
	return f
}

// quote quotes a field for an error message, truncated.
func quote(b []byte) string {
	return strconv.Quote(truncText(b, 40))
}

// isSeconds reports whether b is \d+\.\d{6}.
func isSeconds(b []byte) bool {
	_, ok := parseSeconds(b, false)
	return ok
}

// parseSeconds parses \d+\.\d{6} (with neg, an optional leading '-', which
// Writer prints for times before the epoch) as nanoseconds.
func parseSeconds(b []byte, neg bool) (int64, bool) {
	minus := false
	if neg && len(b) > 0 && b[0] == '-' {
		minus, b = true, b[1:]
	}
	dot := len(b) - 7
	if dot < 1 || b[dot] != '.' {
		return 0, false
	}
	var sec, us int64
	for _, c := range b[:dot] {
		if c < '0' || c > '9' {
			return 0, false
		}
		if sec = sec*10 + int64(c-'0'); sec > maxSeconds {
			return 0, false
		}
	}
	for _, c := range b[dot+1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		us = us*10 + int64(c-'0')
	}
	ns := sec*1e9 + us*1e3
	if minus {
		ns = -ns
	}
	return ns, true
}

// parseDecimal parses \d+ as a uint64.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// isOrdinal reports whether b is adudump's -o ordinal "maj.min", each part
// an integer, -1 for a partial connection's.
func isOrdinal(b []byte) bool {
	maj, min, ok := bytes.Cut(b, []byte{'.'})
	return ok && isInt(maj) && isInt(min)
}

func isInt(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte{'-'})
	if len(b) == 0 || len(b) > 10 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseDir parses the direction field: '>', '<' or 'x', then the optional
// interface number of the later dialect.
func parseDir(b []byte) (byte, bool) {
	if len(b) == 0 || len(b) > 4 {
		return 0, false
	}
	switch b[0] {
	case '>', '<', 'x':
	default:
		return 0, false
	}
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	return b[0], true
}

// parseEndpoint parses "address.port", the port after the last dot. IPv4
// takes a fast path; anything with a colon goes to netip.ParseAddr.
func parseEndpoint(b []byte) (netip.AddrPort, bool) {
	dot := bytes.LastIndexByte(b, '.')
	if dot < 0 {
		return netip.AddrPort{}, false
	}
	port, ok := parseDecimal(b[dot+1:])
	if !ok || port > 65535 || len(b)-dot-1 > 5 {
		return netip.AddrPort{}, false
	}
	host := b[:dot]
	var addr netip.Addr
	if bytes.IndexByte(host, ':') >= 0 {
		a, err := netip.ParseAddr(string(host))
		if err != nil {
			return netip.AddrPort{}, false
		}
		addr = a
	} else if addr, ok = parseIPv4(host); !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// parseIPv4 parses a dotted quad as netip.ParseAddr does (no leading zeros).
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	for i := range 4 {
		j := 0
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == 0 || j > 3 || (j > 1 && b[0] == '0') {
			return netip.Addr{}, false
		}
		v, _ := parseDecimal(b[:j])
		if v > 255 {
			return netip.Addr{}, false
		}
		ip[i] = byte(v)
		b = b[j:]
		if i < 3 {
			if len(b) == 0 || b[0] != '.' {
				return netip.Addr{}, false
			}
			b = b[1:]
		}
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}
