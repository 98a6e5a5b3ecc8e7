// Package adutext writes (and reads) inference records as adudump text, the
// line format of the adudump paper's Table 2:
//
//	SYN: 1202706002.650917 1.2.3.4.443 < 5.6.7.8.62015
//	ADU: 1202706002.688748 1.2.3.4.443 < 5.6.7.8.62015 163 SEQ 0.000542
//
// The first endpoint printed is the local one when local networks are
// configured (the server when both or neither side is local), and the
// server otherwise; '>' means a segment or ADU from the first endpoint to
// the second, '<' the reverse. Times are seconds with microseconds.
package adutext

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/abt-dev/abt/internal/ingest"
)

// Writer formats records as adudump text. It implements ingest.Sink.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter returns a Writer that buffers its output to w; call Flush at
// the end.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 256)}
}

// Flush writes any buffered text.
func (t *Writer) Flush() error {
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("flush adudump text: %w", err)
	}
	return nil
}

// Record writes one record as a line.
func (t *Writer) Record(r *ingest.Record) error {
	t.buf = AppendRecord(t.buf[:0], r)
	if _, err := t.w.Write(t.buf); err != nil {
		return fmt.Errorf("write adudump text: %w", err)
	}
	return nil
}

// serverFirst reports whether the server is printed first.
func serverFirst(r *ingest.Record) bool {
	return r.Label != ingest.LabelOut
}

// AppendRecord appends r's text line (with its newline) to b.
func AppendRecord(b []byte, r *ingest.Record) []byte {
	b = append(b, r.Kind.String()...)
	b = append(b, ':', ' ')
	b = appendTime(b, r.TsNs)
	first, second := r.Server, r.Client
	toFirst := ingest.DirC2S
	if !serverFirst(r) {
		first, second = r.Client, r.Server
		toFirst = ingest.DirS2C
	}
	b = append(b, ' ')
	b = appendEndpoint(b, first)
	if r.Dir == toFirst {
		b = append(b, " < "...)
	} else {
		b = append(b, " > "...)
	}
	b = appendEndpoint(b, second)
	switch r.Kind {
	case ingest.KindRTT:
		b = append(b, ' ')
		b = appendDur(b, usec(r.RTTNs))
	case ingest.KindADU, ingest.KindINC:
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.Size, 10)
		if r.Concurrent {
			b = append(b, " CONC"...)
		} else {
			b = append(b, " SEQ"...)
		}
		if r.Kind == ingest.KindADU && r.ThinkNs >= 0 {
			b = append(b, ' ')
			b = appendDur(b, usec(r.ThinkNs))
		}
	}
	return append(b, '\n')
}

func appendEndpoint(b []byte, ap netip.AddrPort) []byte {
	b = ap.Addr().AppendTo(b)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// usec truncates ns to whole microseconds (towards minus infinity), the
// resolution of the text. Think times and RTTs are truncated themselves,
// as the archive stores them (think_us, rtt_us), rather than printed as
// differences of truncated times (as adudump, whose clock had
// microseconds, did): with a capture's sub-microsecond times the two
// differ by a microsecond, and an archive made from the text would not
// give the capture's figures.
func usec(ns int64) int64 {
	q := ns / 1000
	if ns%1000 < 0 {
		q--
	}
	return q
}

// appendTime appends ns since the epoch as seconds.microseconds.
func appendTime(b []byte, ns int64) []byte {
	return appendDur(b, usec(ns))
}

// appendDur appends a microsecond count as seconds with six decimals.
func appendDur(b []byte, us int64) []byte {
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}
