package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// mutFixture is one input of TestMutations: a file as it would be stored,
// and what reading it unmutated gives.
type mutFixture struct {
	name        string // used as the input's name in errors
	data        []byte // the file, compressed or not
	compression string // "", "gzip" or "zstd"
	members     []int  // compressed: where each gzip member or zstd frame starts
	want        []gotPkt
	ends        []int64 // plain: offset just past each packet's record
	format      Format
}

// prefixRule says what a mutation lets us predict about the packets read.
type prefixRule uint8

const (
	prefixNone      prefixRule = iota // garbage may follow the fault: nothing predicted
	prefixExact                       // plain truncation: exactly the packets that end before the cut
	prefixAtLeast                     // plain change at a byte: at least the packets that end before it, unchanged
	prefixStream                      // compressed, content intact up to the fault: the packets read are a prefix of want
	prefixAllOrFail                   // compressed, content intact: a prefix of want, and an error if not all of it
)

// mutation is one damaged version of a fixture.
type mutation struct {
	name string
	data []byte
	at   int64 // plain: the first byte that differs from the fixture (its length for appends)
	rule prefixRule
	// compressedAt, when >= 0, is the compressed-file offset at which the
	// decompressor must report the fault (a truncated stream: the cut; a bad
	// trailer: the member's end).
	compressedAt int64
	// compressedFault says the fault is in the compression layer, so the
	// error must name an offset in the compressed file.
	compressedFault bool
}

// mutStats counts outcomes over every case, for the log line.
type mutStats struct {
	cases, ok, errs int
	compressed      int // errors of the compression layer
	noOffset        int // errors not starting "<file>: byte offset N"
	unlabelled      int // compressed input, but the offset not said to be in the decompressed stream
	noCompOffset    int // compression-layer errors without the offset in the compressed file
}

// Error text patterns: every fault names the file and a byte offset; a
// fault of the compression layer also names the offset in the compressed
// file.
var (
	reCompressionFault = regexp.MustCompile(`(?:decompress|open) (?:gzip|zstd)`)
	reCompressedOffset = regexp.MustCompile(`decompress (?:gzip|zstd) at byte offset (\d+) of the file: `)
)

// TestMutations damages bundled captures, plain and gzip- or zstd-
// compressed (single and multi-member), in deterministic ways: cuts at many
// offsets, flipped bytes in headers and in the compressed stream, corrupt
// gzip and zstd trailers (checksum, size), appended garbage, an appended
// truncated member. For every case it reads to the end and checks: no
// panic; success, or an error that is a *FormatError whose text starts
// "<file>: byte offset N" (for compressed input "... of the decompressed
// stream") and, when the compression layer is at fault, also says "at byte
// offset M of the file", M within the damaged file; and the packets read
// before the fault are those of the undamaged file wherever that is
// determinable (see prefixRule).
func TestMutations(t *testing.T) {
	var st mutStats
	for _, fx := range mutFixtures(t) {
		for _, m := range mutations(fx) {
			st.cases++
			t.Run(fx.name+"/"+m.name, func(t *testing.T) { checkMutation(t, fx, m, &st) })
		}
	}
	t.Logf("%d cases: %d read to a clean end, %d errors (%d in the compression layer); "+
		"%d without a byte offset, %d with one not said to be in the decompressed stream, %d compression faults without the offset in the compressed file",
		st.cases, st.ok, st.errs, st.compressed, st.noOffset, st.unlabelled, st.noCompOffset)
	require.Greater(t, st.cases, 300)
}

func checkMutation(t *testing.T, fx mutFixture, m mutation, st *mutStats) {
	got, err := readMutated(t, fx.name, m.data)
	if err == nil {
		st.ok++
	} else {
		st.errs++
		checkMutationError(t, fx, m, err, st)
	}
	checkMutationPrefix(t, fx, m, got, err)
}

// readMutated opens and drains data, turning a panic into a test failure
// that names the case.
func readMutated(t *testing.T, name string, data []byte) (got []gotPkt, err error) {
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("panic: %v", p)
		}
	}()
	src, err := OpenReaderOptions(name, bytes.NewReader(data), Options{maxStream: 64 << 20})
	if err != nil {
		return nil, err
	}
	defer func() { require.NoError(t, src.Close()) }()
	got, err = readAll(t, src)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return got, err
}

// checkMutationError checks the error of one case.
func checkMutationError(t *testing.T, fx mutFixture, m mutation, err error, st *mutStats) {
	msg := err.Error()
	prefix := regexp.QuoteMeta(fx.name) + `: byte offset (\d+)`
	// Damage to the magic number makes a compressed file a plain one.
	compressed := bytes.HasPrefix(m.data, magicGzip) || bytes.HasPrefix(m.data, magicZstd)
	if compressed {
		prefix += ` of the decompressed stream`
	}
	hasOffset := regexp.MustCompile(`^` + prefix + `[ :]`).MatchString(msg)
	cm := reCompressedOffset.FindStringSubmatch(msg)
	fault := reCompressionFault.MatchString(msg) || m.compressedFault
	switch {
	case !regexp.MustCompile(`^` + regexp.QuoteMeta(fx.name) + `: byte offset \d+`).MatchString(msg):
		st.noOffset++
	case !hasOffset:
		st.unlabelled++
	}
	if fault {
		st.compressed++
		if cm == nil {
			st.noCompOffset++
		}
	}
	require.True(t, hasOffset, "error does not name the file and byte offset: %v", err)
	var fe *FormatError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, fx.name, fe.File)
	if !compressed {
		require.LessOrEqual(t, fe.Offset, int64(len(m.data)), "%v", err)
	}
	if !fault {
		return
	}
	require.NotNil(t, cm, "compression fault without its offset in the compressed file: %v", err)
	off, perr := strconv.ParseInt(cm[1], 10, 64)
	require.NoError(t, perr)
	var de *DecompressError
	require.ErrorAs(t, err, &de)
	require.Equal(t, de.Offset, off)
	require.Equal(t, fe.Compression, de.Compression)
	require.LessOrEqual(t, off, int64(len(m.data)), "%v", err)
	if m.compressedAt >= 0 {
		require.Equal(t, m.compressedAt, off, "%v", err)
	}
}

// checkMutationPrefix checks the packets read against the undamaged file's.
func checkMutationPrefix(t *testing.T, fx mutFixture, m mutation, got []gotPkt, err error) {
	switch m.rule {
	case prefixExact, prefixAtLeast:
		k := 0
		for k < len(fx.ends) && fx.ends[k] <= m.at {
			k++
		}
		var fe *FormatError
		switch {
		case m.rule == prefixExact:
			require.Len(t, got, k)
		case fx.format == FormatERF && errors.As(err, &fe) && fe.Packet == 0 && m.at < fx.ends[0]+erfHeaderLen:
			// ERF detection looks at the second record's header too: damage
			// there can make the file unrecognisable.
			return
		default:
			require.GreaterOrEqual(t, len(got), k, "packets before the damage at %d: %v", m.at, err)
		}
		if k > 0 {
			require.Equal(t, fx.want[:k], got[:k])
		}
	case prefixStream, prefixAllOrFail:
		if n := min(len(got), len(fx.want)); n > 0 {
			require.Equal(t, fx.want[:n], got[:n])
		}
		if m.rule == prefixAllOrFail && len(got) != len(fx.want) {
			require.Error(t, err, "fewer packets than the file has, and no error")
		}
	}
}

// mutFixtures builds the inputs: bundled captures as they are, and some of
// them compressed here, as one gzip member or zstd frame and as two.
func mutFixtures(t *testing.T) []mutFixture {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(pcapDir, name))
		require.NoError(t, err)
		return b
	}
	plain := func(name string, data []byte) mutFixture {
		fx := mutFixture{name: name, data: data}
		fx.want, fx.ends, fx.format = readWithEnds(t, data)
		return fx
	}
	erf := read("trex_sfr2-0-ex.erf")
	_, erfEnds, _ := readWithEnds(t, erf)
	erf = erf[:erfEnds[40]] // 41 records: enough for a fixture

	smtp, ftp := plain("smtp.pcap", read("zeek_smtp.pcap")), plain("ftp6.pcap", read("zeek_ftp_ipv6.pcap"))
	fxs := []mutFixture{
		plain("reorder.pcap", read("zeek_tcp_handshake-reorder.pcap")),
		plain("nanosecs-be.pcap", read("pcapplusplus_nanosecs_big_endian.pcap")),
		plain("example.pcapng", read("pcapplusplus_pcapng-example.pcapng")),
		plain("sfr.erf", erf),
		compressed(t, "http1000.pcap.gz", "gzip", read("zeek_http_1000-requests-one-dropped-response.pcap.gz"), nil),
		compressed(t, "qinq.pcap.gz", "gzip", gzipBytes(t, read("zeek_http-qinq-0.pcap")), nil),
		compressed(t, "smtp-2.pcap.gz", "gzip", nil, splitMembers(t, smtp, gzipBytes)),
		compressed(t, "example.pcapng.zst", "zstd", zstdBytes(t, read("pcapplusplus_pcapng-example.pcapng")), nil),
		compressed(t, "ftp6-2.pcap.zst", "zstd", nil, splitMembers(t, ftp, zstdBytes)),
		compressed(t, "sfr.erf.zst", "zstd", zstdBytes(t, erf), nil),
	}
	return fxs
}

// splitMembers compresses a plain fixture as two members (frames), split at
// the record boundary nearest its middle.
func splitMembers(t *testing.T, fx mutFixture, compress func(testing.TB, []byte) []byte) [][]byte {
	t.Helper()
	mid := fx.ends[len(fx.ends)/2]
	return [][]byte{compress(t, fx.data[:mid]), compress(t, fx.data[mid:])}
}

// compressed makes a fixture of a compressed file, given whole (data) or as
// members to concatenate.
func compressed(t *testing.T, name, comp string, data []byte, members [][]byte) mutFixture {
	t.Helper()
	fx := mutFixture{name: name, data: data, compression: comp, members: []int{0}}
	if members != nil {
		fx.data = bytes.Join(members, nil)
		fx.members = fx.members[:0]
		for i := range members {
			fx.members = append(fx.members, len(bytes.Join(members[:i], nil)))
		}
	}
	src := openBytes(t, fx.data, Options{})
	require.Equal(t, comp, statsOf(t, src).Compression)
	var err error
	fx.want, err = readAll(t, src)
	require.ErrorIs(t, err, io.EOF)
	require.NotEmpty(t, fx.want)
	fx.format = statsOf(t, src).Format
	return fx
}

// readWithEnds reads a plain capture and returns its packets, the offset
// just past each packet's record, and its format.
func readWithEnds(t *testing.T, data []byte) ([]gotPkt, []int64, Format) {
	t.Helper()
	src := openBytes(t, data, Options{})
	var (
		pkts []gotPkt
		ends []int64
		p    Packet
	)
	for {
		err := src.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkts = append(pkts, gotPkt{bytes.Clone(p.Data), p.TsNs, p.OrigLen, p.Link, p.Iface})
		ends = append(ends, streamOffset(t, src))
	}
	require.NotEmpty(t, pkts)
	return pkts, ends, statsOf(t, src).Format
}

// streamOffset is the reader's position in its (decompressed) stream.
func streamOffset(t *testing.T, src Source) int64 {
	t.Helper()
	switch s := src.(type) {
	case *pcapReader:
		return s.br.off
	case *pcapngReader:
		return s.br.off
	case *erfReader:
		return s.br.off
	}
	t.Fatalf("unknown source %T", src)
	return 0
}

// mutations lists a fixture's damaged versions, the same on every run.
func mutations(fx mutFixture) []mutation {
	d := fx.data
	n := len(d)
	rng := rand.New(rand.NewPCG(uint64(n), 0x6d7574)) // seeded by the fixture: deterministic
	var ms []mutation
	add := func(m mutation) { ms = append(ms, m) }
	plain := fx.compression == ""

	// Cuts: the first bytes (magic, header), evenly spread, the last bytes.
	cuts := []int{0, 1, 2, 3, 4, 5, 8, 12, 16, 23, 24, 25, 28, 32, 40}
	for i := 1; i < 24; i++ {
		cuts = append(cuts, n*i/24)
	}
	cuts = append(cuts, n-1, n-2, n-4, n-5, n-8, n-9, n-12)
	for _, m := range fx.members[min(1, len(fx.members)):] {
		cuts = append(cuts, m-1, m, m+1, m+4, m+10) // around a member boundary
	}
	seen := map[int]bool{}
	for _, c := range cuts {
		if c < 0 || c >= n || seen[c] {
			continue
		}
		seen[c] = true
		m := mutation{name: fmt.Sprintf("cut%d", c), data: d[:c], at: int64(c), compressedAt: -1}
		switch {
		case plain:
			m.rule = prefixExact
		case c >= 4 && !isMemberStart(fx, c):
			// The decompressor reads the whole cut file, then finds it short.
			m.rule, m.compressedAt, m.compressedFault = prefixStream, int64(c), true
		default:
			m.rule = prefixStream
		}
		add(m)
	}

	// Flipped bytes: every third of the first 48 (file, member and frame
	// headers, first records), and a dozen spread at random.
	var flips []int
	for i := 0; i < min(48, n); i += 3 {
		flips = append(flips, i)
	}
	for range 12 {
		flips = append(flips, rng.IntN(n))
	}
	for _, m := range fx.members[min(1, len(fx.members)):] {
		flips = append(flips, m, m+3, m+4, m+5) // second member's or frame's header
	}
	for _, at := range flips {
		if at >= n {
			continue
		}
		b := bytes.Clone(d)
		b[at] ^= 0xff
		m := mutation{name: fmt.Sprintf("flip%d", at), data: b, at: int64(at), compressedAt: -1}
		if plain {
			m.rule = prefixAtLeast
		}
		add(m)
	}

	// Trailers: gzip's CRC-32 and ISIZE (last 8 bytes), zstd's content
	// checksum (last 4). The content is intact, so whatever is read is the
	// file's, and the decompressor must object at the member's end.
	switch fx.compression {
	case "gzip":
		for _, at := range []int{n - 8, n - 5, n - 4, n - 1} {
			b := bytes.Clone(d)
			b[at] ^= 0x01
			add(mutation{name: fmt.Sprintf("trailer%d", at), data: b, rule: prefixAllOrFail, compressedAt: int64(n), compressedFault: true})
		}
	case "zstd":
		for _, at := range []int{n - 4, n - 1} {
			b := bytes.Clone(d)
			b[at] ^= 0x01
			add(mutation{name: fmt.Sprintf("checksum%d", at), data: b, rule: prefixAllOrFail, compressedAt: int64(n), compressedFault: true})
		}
	}

	// Appended garbage, and an appended truncated copy of the first member
	// (or, for plain files, of the file).
	garbage := make([]byte, 64)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	first := d
	if len(fx.members) > 1 {
		first = d[:fx.members[1]]
	}
	appends := []struct {
		name string
		tail []byte
		// The tail decompresses to nothing, so the compression layer is
		// the first to object. A longer truncated member first yields
		// its start, which the format reader may reject first.
		nothing bool
	}{
		{"garbage-text", []byte("garbage!\n"), true},
		{"garbage-zeros", make([]byte, 3), true},
		{"garbage-random", garbage, true},
		{"truncated-member-head", first[:min(len(first), 5)], true},
		{"truncated-member-half", first[:len(first)/2], false},
		{"truncated-member-last", first[:len(first)-1], false},
	}
	for _, a := range appends {
		m := mutation{name: "append-" + a.name, data: append(bytes.Clone(d), a.tail...), at: int64(n), compressedAt: -1}
		if plain {
			m.rule = prefixAtLeast
		} else {
			// Everything of the file is intact; the tail is not a valid
			// member, so there must be an error.
			m.rule, m.compressedFault = prefixAllOrFail, a.nothing
		}
		add(m)
	}
	return ms
}

// isMemberStart reports whether off is where a member (frame) of fx starts
// or the file ends: a cut there leaves whole members.
func isMemberStart(fx mutFixture, off int) bool {
	for _, m := range fx.members {
		if m == off {
			return true
		}
	}
	return off == len(fx.data)
}

// TestMutationFixtures checks that the fixtures' members start where the
// helpers above think, so that no case silently tests something else.
func TestMutationFixtures(t *testing.T) {
	for _, fx := range mutFixtures(t) {
		for _, m := range fx.members {
			magic := map[string][]byte{"gzip": magicGzip, "zstd": magicZstd}[fx.compression]
			require.Equal(t, magic, fx.data[m:m+len(magic)], fx.name)
		}
		if fx.compression == "" {
			require.Len(t, fx.ends, len(fx.want), fx.name)
		}
	}
}
