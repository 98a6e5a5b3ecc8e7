package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// testPkt is a packet for the hand-built captures below.
type testPkt struct {
	sec, frac uint32 // pcap timestamp fields
	data      []byte
	orig      uint32 // 0 means len(data)
}

func (p testPkt) origLen() uint32 {
	if p.orig == 0 {
		return uint32(len(p.data))
	}
	return p.orig
}

// payload returns n bytes whose values encode seed, so packets differ.
func payload(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i)
	}
	return b
}

// buildPcap writes a classic pcap file with the given magic.
func buildPcap(order binary.AppendByteOrder, magic, snaplen uint32, link LinkType, pkts []testPkt) []byte {
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0) // thiszone
	b = order.AppendUint32(b, 0) // sigfigs
	b = order.AppendUint32(b, snaplen)
	b = order.AppendUint32(b, uint32(link))
	for _, p := range pkts {
		b = order.AppendUint32(b, p.sec)
		b = order.AppendUint32(b, p.frac)
		b = order.AppendUint32(b, uint32(len(p.data)))
		b = order.AppendUint32(b, p.origLen())
		if magic == magicPcapKuzn {
			b = append(b, make([]byte, 8)...)
		}
		b = append(b, p.data...)
	}
	return b
}

// ngBlock frames a pcapng block body, padding it to 4 bytes.
func ngBlock(order binary.AppendByteOrder, typ uint32, body []byte) []byte {
	padded := (len(body) + 3) &^ 3
	n := uint32(12 + padded)
	var b []byte
	b = order.AppendUint32(b, typ)
	b = order.AppendUint32(b, n)
	b = append(b, body...)
	b = append(b, make([]byte, padded-len(body))...)
	return order.AppendUint32(b, n)
}

func ngSHB(order binary.AppendByteOrder) []byte {
	var body []byte
	body = order.AppendUint32(body, byteOrderMagic)
	body = order.AppendUint16(body, 1)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint64(body, ^uint64(0)) // section length unknown
	return ngBlock(order, blockSHB, body)
}

// ngOpt encodes one option, padded.
func ngOpt(order binary.AppendByteOrder, code uint16, val []byte) []byte {
	var b []byte
	b = order.AppendUint16(b, code)
	b = order.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, (len(val)+3)&^3-len(val))...)
}

func ngIDB(order binary.AppendByteOrder, link LinkType, snaplen uint32, opts ...[]byte) []byte {
	var body []byte
	body = order.AppendUint16(body, uint16(link))
	body = order.AppendUint16(body, 0)
	body = order.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0) // opt_endofopt
	}
	return ngBlock(order, blockIDB, body)
}

func ngEPB(order binary.AppendByteOrder, iface uint32, ts uint64, data []byte, orig uint32) []byte {
	var body []byte
	body = order.AppendUint32(body, iface)
	body = order.AppendUint32(body, uint32(ts>>32))
	body = order.AppendUint32(body, uint32(ts))
	body = order.AppendUint32(body, uint32(len(data)))
	body = order.AppendUint32(body, orig)
	body = append(body, data...)
	return ngBlock(order, blockEPB, body)
}

func ngPB(order binary.AppendByteOrder, iface uint16, ts uint64, data []byte, orig uint32) []byte {
	var body []byte
	body = order.AppendUint16(body, iface)
	body = order.AppendUint16(body, 0) // drops
	body = order.AppendUint32(body, uint32(ts>>32))
	body = order.AppendUint32(body, uint32(ts))
	body = order.AppendUint32(body, uint32(len(data)))
	body = order.AppendUint32(body, orig)
	body = append(body, data...)
	return ngBlock(order, blockPB, body)
}

func ngSPB(order binary.AppendByteOrder, orig uint32, data []byte) []byte {
	body := order.AppendUint32(nil, orig)
	return ngBlock(order, blockSPB, append(body, data...))
}

// erfRec builds one ERF record: header, extension headers (each 8 bytes,
// chained), payload, padded to 8 bytes. rlen is computed.
func erfRec(ts uint64, typ, flags byte, wlen uint16, exts int, payload []byte) []byte {
	if exts > 0 {
		typ |= erfMoreExt
	}
	n := (erfHeaderLen + erfExtLen*exts + len(payload) + 7) &^ 7
	b := binary.LittleEndian.AppendUint64(nil, ts)
	b = append(b, typ, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, wlen)
	for i := range exts {
		e := make([]byte, erfExtLen)
		e[0] = 5 // some extension header type
		if i < exts-1 {
			e[0] |= erfMoreExt
		}
		b = append(b, e...)
	}
	b = append(b, payload...)
	return append(b, make([]byte, n-len(b))...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Close()) }()
	return w.EncodeAll(b, nil)
}

// gotPkt is a copied Packet, safe to keep.
type gotPkt struct {
	Data    []byte
	TsNs    int64
	OrigLen int
	Link    LinkType
	Iface   int
}

// readAll drains src, copying packets, and returns them with the final
// error (io.EOF on a clean end). It also checks that the error is sticky.
func readAll(t testing.TB, src Source) ([]gotPkt, error) {
	t.Helper()
	var out []gotPkt
	var p Packet
	for {
		err := src.Next(&p)
		if err != nil {
			require.Equal(t, err, src.Next(&p), "error must be sticky")
			return out, err
		}
		out = append(out, gotPkt{bytes.Clone(p.Data), p.TsNs, p.OrigLen, p.Link, p.Iface})
	}
}

// openBytes opens b as a capture and fails the test on error.
func openBytes(t testing.TB, b []byte, opts Options) Source {
	t.Helper()
	src, err := OpenReaderOptions("test", bytes.NewReader(b), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, src.Close()) })
	return src
}

// requireFormatError asserts err is a *FormatError at off for packet pkt.
func requireFormatError(t testing.TB, err error, off, pkt int64) *FormatError {
	t.Helper()
	var fe *FormatError
	require.True(t, errors.As(err, &fe), "want *FormatError, got %T: %v", err, err)
	require.Equal(t, off, fe.Offset, "offset in %v", err)
	require.Equal(t, pkt, fe.Packet, "packet index in %v", err)
	return fe
}

func statsOf(t testing.TB, src Source) Stats {
	t.Helper()
	sr, ok := src.(StatsReporter)
	require.True(t, ok, "%T does not report stats", src)
	return sr.Stats()
}
