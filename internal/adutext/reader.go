package adutext

// Reading adudump text back into records.
//
// A log line says less than a record: it has no first-data time, no packet
// counts and, in the END line, no reason. The Reader rebuilds what the lines
// determine (roles, connection ids, ordinals, think times, a summary of the
// ADUs at END) and marks the rest unknown: ingest.NoTime for times,
// ingest.EndUnrecorded for the END reason, -1 for absent durations.

import (
	"bufio"
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/ingest"
)

// DefaultMaxLineBytes is the longest line a Reader accepts unless
// ReaderOptions.MaxLineBytes says otherwise. Real adudump lines are under
// 200 bytes; anything near this limit is garbage.
const DefaultMaxLineBytes = 1 << 20

// lineErrorText is how much of a malformed line LineError keeps.
const lineErrorText = 80

// ReaderOptions tunes a Reader. The zero value is usable.
type ReaderOptions struct {
	// SkipMalformed counts malformed lines (ReaderStats.Malformed) and
	// skips them instead of stopping with a *LineError. A skipped line
	// changes no state: its time does not advance the clock and its
	// endpoints start no connection.
	SkipMalformed bool
	// LocalNets are the networks considered local, used only to set the
	// records' Label as the engine would (masks applied). With none, every
	// record has ingest.LabelUnknown. The print order of a log's endpoints
	// is not used for the label.
	LocalNets []netip.Prefix
	// MaxLineBytes is the longest accepted line in bytes, without its line
	// terminator; longer lines are malformed. 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// QuietTime is the quiet time the log was made with (adudump's -q,
	// adu2parquet's --quiet-time): a sequential think time shorter than it
	// cannot be a quiet-time split, so its ADU needs no wait for the
	// connection's next line (see Reader). 0 means DefaultQuietTime; a
	// log made with a smaller quiet time than the one given can get some
	// ThinkToPeer wrong.
	QuietTime time.Duration
	// QueueBudget bounds, in bytes, the records waiting behind an ADU whose
	// ThinkToPeer awaits its connection's next line (see Reader); when the
	// queue would take more, the oldest such ADU is released with the guess
	// (ReaderStats.QueueReleased). 0 means DefaultQueueBudget; negative,
	// no bound.
	QueueBudget int64
	// MaxConns bounds the open connections; beyond it the one named least
	// recently ends with reason evicted (ReaderStats.Evicted), so that a
	// log whose connections lack their END lines (cut, or written by a
	// program that died) cannot fill memory. There is no idle timeout: a
	// connection kept alive by packets that make no line (ACKs,
	// keep-alives) shows no sign of life in the log, and the engine that
	// made it did not end it. 0: no bound.
	MaxConns int
}

// DefaultQuietTime is the quiet time of adudump and of adu2parquet unless
// told otherwise.
const DefaultQuietTime = 500 * time.Millisecond

// DefaultQueueBudget is ReaderOptions.QueueBudget's default: about 200,000
// waiting records, a quarter of adu2parquet's default memory budget.
const DefaultQueueBudget = 64 << 20

// ReaderStats are a Reader's counters.
type ReaderStats struct {
	Lines           int64 // lines read: blank, comment and malformed ones included
	Records         int64 // records returned by Next
	Conns           int64 // connections started (ConnIDs handed out)
	Malformed       int64 // malformed lines skipped (SkipMalformed only)
	TimeBackwards   int64 // timed lines stamped earlier than the latest time before them
	UntimedINC      int64 // INC lines stamped "X.X", given the latest time read
	EndsSynthesized int64 // END records the log did not contain (EndReused, EndEOF)
	// PeerGuessed counts sequential ADUs with a think time of at least the
	// quiet time whose ThinkToPeer the log did not determine and that were
	// taken as ended by the other side: no ADU, INC or directed CONC line
	// of their connection followed before its END or the log's fault, an
	// undirected CNC line ('x') followed, or the queue bound released them
	// (QueueReleased, included here).
	PeerGuessed int64
	// QueueReleased counts the ADUs released before their connection's next
	// line because the queue reached ReaderOptions.QueueBudget.
	QueueReleased int64
	// Evicted counts the connections ended by ReaderOptions.MaxConns (they
	// are also in EndsSynthesized).
	Evicted int64
}

// LineError is a malformed line of an adudump text log.
type LineError struct {
	File string // the name given to NewReader
	Line int64  // 1-based line number
	Text string // the line, truncated to about 80 bytes
	Err  error  // what is wrong with it
}

// Error returns "file:line: cause", for example
// `trace.adu:1234: bad ADU size "12x"`.
func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// Reader turns an adudump text log back into the record stream the
// inference engine produces, so that old logs (the UNC data sets) and our
// own text output can be archived like captures. It reads both dialects of
// the reference note (§6.2), detected per line:
//
//   - TMA 2008 (the paper's Table 2): "SYN: 1202706002.650917 1.2.3.4.443 <
//     5.6.7.8.62015", "CONC:" lines, END with '<' or '>';
//   - later adudump: an interface digit after the direction ("<1"), "x0"
//     on connection-level lines, "CNC:", "SAK:", "PART:", "INC: X.X ...",
//     a '+' before a partial connection's first ADU size, and with -o an
//     ordinal field "maj.min" at the end of ADU and INC lines;
//
// and what Writer prints (IPv6 addresses as "2001:db8::1.80": the port
// follows the last dot; negative times before the epoch). Blank lines and
// lines starting with '#' are skipped; a trailing CR is ignored; fields are
// separated by runs of spaces or tabs. Anything else must match the grammar
// exactly: times are seconds with exactly six decimals (or "X.X" on INC
// lines) and at most 4e9 seconds (year 2096); sizes are decimal; think
// times and RTTs are seconds with six decimals; 'x' is accepted only on
// SEQ, CNC/CONC and END lines, the others being about one direction. An
// ADU line's single trailing field is a think time if it has six
// decimals, else an ordinal. Ordinal fields are checked and dropped: the
// Reader numbers ADUs itself.
//
// Rules where a log says less than a record:
//
//   - The first endpoint printed is the local one (or the server); '>' is a
//     segment or ADU from it to the second, '<' the reverse and 'x' a
//     connection-level line (Dir = ingest.DirNone).
//   - Connections are keyed by the unordered endpoint pair. SYN, SAK and
//     PART lines always start a connection; any other line starts one when
//     none is open on its key (a log that begins mid-way, or a line after
//     the key's END). A connection still open when a SYN, SAK or PART
//     arrives on its key gets an END with ingest.EndReused first. ConnIDs
//     count from 1 in the order connections first appear in the returned
//     records (a connection started by a SAK line, which has no record,
//     gets its ConnID with its next record).
//   - Roles: the client is the SYN's or handshake ACK's (SEQ's) sender, the
//     SYN-ACK's (SAK's or RTT's) receiver. A connection started by any other
//     line gets the engine's guess for partial connections: the side on a
//     port below 1024 (or, failing that, below 49152 when the other is not)
//     is the server; otherwise the sender of the line is the client, and for
//     an 'x' or END line the first endpoint printed is the server (as Table
//     2 and, without local networks, Writer print it; an END line's
//     direction is that of the connection's last segment, not a sender's).
//   - TsNs is the line's time in ns. An "X.X" INC line gets the latest time
//     read so far (0 when it is the first timed thing in the log) and is
//     returned where it stands. Records are returned in line order: when a
//     log's time goes backwards the Reader carries on and counts the line
//     in ReaderStats.TimeBackwards, so the output is time-ordered whenever
//     the log is.
//   - ADU: ThinkNs is the printed think time, -1 when absent; LastNs is
//     TsNs-ThinkNs when a think time is printed (the ADU's last segment, as
//     adudump measures think time up to the line's segment), else
//     ingest.NoTime; FirstNs is always ingest.NoTime. INC lines never have
//     a think time. Ordinal is the 0-based count of the connection's ADU
//     and INC lines.
//   - ThinkToPeer (the think time ended at the other side's data: after a
//     request, the server's response time) is not printed; the next line of
//     the connection shows it. A CONC ADU's think time is a same-direction
//     gap (false); a SEQ ADU's ended at the other side's data unless it was
//     a quiet-time split, which needs a think time of at least the quiet
//     time (ReaderOptions.QuietTime; the printed microseconds of a gap
//     longer than it are never fewer). Such an ADU waits for its
//     connection's next ADU or INC line, true when that is the other
//     side's; or for a CONC line, true when the segment that found the
//     connection concurrent was this side's (it started a new ADU while the
//     other side's, begun at the boundary, was still open; after a
//     quiet-time split the other side is the one that starts an ADU while
//     this side's continues). Neither adudump nor the engine has another
//     way to give a SEQ ADU a think time. Records after a waiting ADU wait
//     with it, to keep line order, within ReaderOptions.QueueBudget. When
//     nothing decides (an undirected CNC line, the END, the budget), the
//     ADU is taken as ended by the other side and counted
//     (ReaderStats.PeerGuessed).
//   - SAK lines produce no record (the engine has none for a SYN-ACK); they
//     start the connection and fix its roles. CNC and CONC lines produce
//     ingest.KindCONC.
//   - END lines produce ingest.KindEND with Reason ingest.EndUnrecorded and
//     a summary built from the connection's lines (see below). Connections
//     still open at the end of the log get an END with ingest.EndEOF at the
//     latest time read, after the log's last line, in order of their last
//     line (then first line), with Dir the direction of their last directed line,
//     as the engine does.
//
// The END summary (ingest.ConnSummary; 0 means not seen): SynNs is the SYN
// line's time (the SAK's when the SYN was missed); EstablishedNs the first
// SEQ or the PART line; ConcurrentNs the first CNC/CONC line; FirstNs and
// LastNs the connection's first and latest line times, INC lines excluded
// (adudump prints them at the end of its input, not for a packet); EndNs
// the END time; RTTNs the RTT line's
// value or -1; AckRTTNs -1; SynAttempts 1 after a SYN line and
// SynAckAttempts 1 after a SAK or RTT line; Handshake SYN after a SYN
// line, SYNACK after a SAK line or when a SEQ or END line started the
// connection (abt's engine prints no line for a SYN-ACK that starts one),
// else none; Partial when any other line started it;
// Concurrent after a CNC/CONC line or a CONC ADU; Exchanges by the engine's
// rule (a c2s ADU after a non-c2s one starts an epoch, and so does a first
// ADU that is s2c); per direction, ADUs counts ADU and INC lines and
// UniqueBytes sums their sizes. Packet and byte counters, FIN, RST and MSS
// stay 0 and WScale -1: a log does not carry them.
//
// Limitations: connections that adudump never ended (it prints no END
// after a one-sided FIN or RST, nor for a reused hash slot) stay open, in
// memory, until the end of the log; adudump's reuse of a 4-tuple with a new
// ISN but no new SYN line is invisible, so both connections become one. A
// log made with a quiet time below ReaderOptions.QuietTime can have
// quiet-time splits the Reader takes as ended by the other side.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	name    string
	br      *bufio.Reader
	skip    bool
	maxLine int
	nets    []netip.Prefix

	conns   map[connKey]*readConn
	lru     list.List // the open connections (*readConn), least recently named first
	maxConn int       // 0: none (ReaderOptions.MaxConns)
	nextID  uint64    // last ConnID handed out
	nextSeq uint64    // last readConn.seq handed out
	now     int64     // latest line time read (0 before any)
	clock   bool      // now has been set
	lineNo  int64
	acc     []byte // a line that spans several buffer fills

	// The records read, not yet returned, in line order (reader_peer.go).
	queue  queueRing
	qbase  int64 // position of the queue's front among all records queued
	qbytes int64 // memory the queue holds (queuedCost)
	budget int64 // ReaderOptions.QueueBudget; negative: none
	quiet  int64 // ns: a think time from this up may be a quiet-time split

	stats ReaderStats
	err   error // sticky: io.EOF, a *LineError or a read error
}

// NewReader returns a Reader of the (decompressed) log r, named name in
// errors. See OpenLog for compressed files.
func NewReader(name string, r io.Reader, opts ReaderOptions) *Reader {
	rd := &Reader{
		name:    name,
		br:      bufio.NewReaderSize(r, 64<<10),
		skip:    opts.SkipMalformed,
		maxLine: opts.MaxLineBytes,
		conns:   make(map[connKey]*readConn),
		budget:  opts.QueueBudget,
		maxConn: opts.MaxConns,
	}
	if rd.maxLine <= 0 {
		rd.maxLine = DefaultMaxLineBytes
	}
	if rd.budget == 0 {
		rd.budget = DefaultQueueBudget
	}
	quiet := opts.QuietTime
	if quiet <= 0 {
		quiet = DefaultQuietTime
	}
	// A gap of more than the quiet time prints as at least its whole
	// microseconds (printed times are truncated to the microsecond).
	rd.quiet = int64(quiet/time.Microsecond) * 1000
	for _, p := range opts.LocalNets {
		rd.nets = append(rd.nets, p.Masked())
	}
	return rd
}

// Next overwrites *rec with the next record. It returns io.EOF after the
// last one, a *LineError at a malformed line (unless SkipMalformed), or the
// wrapped error of the underlying reader. Errors are sticky: every later
// call returns the same one. Every record decided before a failing line is
// returned before the error. rec.Conn, on END records, is freshly allocated
// and owned by the caller.
func (r *Reader) Next(rec *ingest.Record) error {
	for !r.ready() {
		switch {
		case r.queue.n > 0 && r.err != nil:
			// The log stopped at a fault: nothing more will decide the
			// waiting ADU at the head.
			r.guess(r.waitingFront())
		case r.queue.n > 0 && r.overBudget():
			r.stats.QueueReleased++
			r.guess(r.waitingFront())
		case r.err != nil:
			return r.err
		default:
			r.step()
		}
	}
	r.pop(rec)
	r.stats.Records++
	return nil
}

// Stats returns a snapshot of the counters.
func (r *Reader) Stats() ReaderStats { return r.stats }

// step reads one line and queues its records, or sets r.err.
func (r *Reader) step() {
	line, tooLong, err := r.readLine()
	switch {
	case errors.Is(err, io.EOF):
		r.finish()
		r.err = io.EOF
		return
	case err != nil:
		// For a compressed log err says where in the file (see OpenLog);
		// the line says where in the text.
		r.err = fmt.Errorf("read adudump log %s at line %d: %w", r.name, r.lineNo+1, err)
		return
	}
	r.lineNo++
	r.stats.Lines++
	var l logLine
	line = bytes.TrimSuffix(line, []byte{'\r'})
	tooLong = tooLong || len(line) > r.maxLine
	switch {
	case tooLong:
		err = fmt.Errorf("line longer than %d bytes", r.maxLine)
	case isBlankOrComment(line):
		return
	default:
		err = parseLine(line, &l)
	}
	if err != nil {
		if r.skip {
			r.stats.Malformed++
			return
		}
		r.err = &LineError{File: r.name, Line: r.lineNo, Text: truncText(line, lineErrorText), Err: err}
		return
	}
	r.apply(&l)
}

// readLine returns the next line without its '\n'; the slice is valid until
// the next call. A line that cannot fit the limit (with its "\r\n") is
// consumed to its end and returned truncated, with tooLong; step checks the
// exact length. A last line without '\n' counts; io.EOF means no bytes were
// left.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	r.acc = r.acc[:0]
	n := 0
	for {
		frag, err := r.br.ReadSlice('\n')
		n += len(frag)
		switch {
		case tooLong:
		case n > r.maxLine+2:
			// Keep the head for the error message only.
			tooLong = true
			if len(r.acc) < lineErrorText {
				r.acc = append(r.acc, frag[:min(len(frag), lineErrorText-len(r.acc))]...)
			}
		case err == nil && len(r.acc) == 0:
			return frag[:len(frag)-1], false, nil // the common case: no copy
		default:
			r.acc = append(r.acc, frag...)
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(r.acc, []byte{'\n'}), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && n > 0:
			return r.acc, tooLong, nil
		}
		return nil, false, err
	}
}

func isBlankOrComment(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t':
		case '#':
			return true
		default:
			return false
		}
	}
	return true
}

// truncText returns at most about n bytes of b as a string, cut at a rune
// boundary.
func truncText(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "..."
}

// connKey is an unordered endpoint pair: lo sorts before hi.
type connKey struct{ lo, hi netip.AddrPort }

func makeKey(a, b netip.AddrPort) connKey {
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return connKey{a, b}
}

// readConn is an open connection of the log.
type readConn struct {
	key         connKey
	seq         uint64 // order of the first line
	id          uint64 // ConnID, 0 until the connection's first record
	client      netip.AddrPort
	server      netip.AddrPort
	label       ingest.Label
	sum         ingest.ConnSummary
	established bool
	ordinal     uint32
	lastADU     ingest.Dir    // direction of the latest ADU or INC
	lastDir     ingest.Dir    // direction of the latest directed line (INC excluded)
	waiting     bool          // an ADU of c waits in the queue for c's next line
	waitPos     int64         // its position (Reader.qbase counts)
	lruElem     *list.Element // in Reader.lru
}

// dirFrom returns the direction of data sent by sender.
func (c *readConn) dirFrom(sender netip.AddrPort) ingest.Dir {
	if sender == c.client {
		return ingest.DirC2S
	}
	return ingest.DirS2C
}

// apply updates the connection state with a parsed line and queues its
// records.
func (r *Reader) apply(l *logLine) {
	switch {
	case l.untimed:
		l.ts = r.now
		r.stats.UntimedINC++
	case !r.clock:
		r.now = l.ts
	case l.ts < r.now:
		r.stats.TimeBackwards++
	default:
		r.now = l.ts
	}
	r.clock = true
	key := makeKey(l.a, l.b)
	c := r.conns[key]
	if c != nil && (l.typ == lineSYN || l.typ == lineSAK || l.typ == linePART) {
		r.end(c, ingest.EndReused, l.ts, c.lastDir)
		c = nil
	}
	if c == nil {
		if r.maxConn > 0 && len(r.conns) >= r.maxConn {
			r.stats.Evicted++
			old := r.lru.Front().Value.(*readConn)
			r.end(old, ingest.EndEvicted, r.now, old.lastDir)
		}
		c = r.newConn(key, l)
	} else {
		if l.typ != lineINC {
			c.sum.LastNs = max(c.sum.LastNs, l.ts)
		}
		r.lru.MoveToBack(c.lruElem)
	}
	d := ingest.DirNone
	switch l.dir {
	case '>':
		d = c.dirFrom(l.a)
	case '<':
		d = c.dirFrom(l.b)
	}
	if d != ingest.DirNone && l.typ != lineINC {
		c.lastDir = d
	}
	rec := ingest.Record{TsNs: l.ts, Client: c.client, Server: c.server, Dir: d,
		Label: c.label, ThinkNs: -1, AckRTTNs: -1}
	wait := false // rec's ThinkToPeer awaits c's next line
	switch l.typ {
	case lineSYN:
		rec.Kind = ingest.KindSYN
	case lineSAK:
		return // no record: newConn has noted the SYN-ACK
	case lineRTT:
		rec.Kind = ingest.KindRTT
		rec.RTTNs = l.rtt
		if c.sum.RTTNs < 0 {
			c.sum.RTTNs = l.rtt
		}
		c.sum.SynAckAttempts = max(c.sum.SynAckAttempts, 1)
	case lineSEQ:
		rec.Kind = ingest.KindSEQ
		if !c.established {
			c.established = true
			c.sum.EstablishedNs = l.ts
		}
	case lineCNC:
		rec.Kind = ingest.KindCONC
		r.decideByCONC(c, d)
		if c.sum.ConcurrentNs == 0 {
			c.sum.ConcurrentNs = l.ts
		}
		c.sum.Concurrent = true
	case linePART:
		rec.Kind = ingest.KindPART
	case lineADU, lineINC:
		rec.Kind = ingest.KindADU
		if l.typ == lineINC {
			rec.Kind = ingest.KindINC
		}
		r.decideByADU(c, d)
		rec.Size = l.size
		rec.Concurrent = l.conc
		rec.FirstNs, rec.LastNs = ingest.NoTime, ingest.NoTime
		if l.think >= 0 {
			rec.ThinkNs = l.think
			rec.LastNs = l.ts - l.think
			switch {
			case rec.Concurrent:
				// A same-direction gap.
			case l.think < r.quiet:
				// Too short for a quiet-time split.
				rec.ThinkToPeer = true
			default:
				wait = true
			}
		}
		rec.Ordinal = c.ordinal
		c.ordinal++
		switch {
		case d == ingest.DirC2S && c.lastADU != ingest.DirC2S:
			c.sum.Exchanges++
		case d == ingest.DirS2C && c.lastADU == ingest.DirNone:
			c.sum.Exchanges++ // the server spoke first: an epoch with an empty request
		}
		c.lastADU = d
		st := &c.sum.C2S
		if d == ingest.DirS2C {
			st = &c.sum.S2C
		}
		st.ADUs++
		st.UniqueBytes = satAdd(st.UniqueBytes, l.size)
		if l.conc {
			c.sum.Concurrent = true
		}
	case lineEND:
		r.end(c, ingest.EndUnrecorded, l.ts, d)
		return
	}
	rec.ConnID = r.connID(c)
	if wait {
		r.pushWaiting(rec, c)
		return
	}
	r.push(rec)
}

// connID returns c's ConnID, handing out the next one on c's first record.
func (r *Reader) connID(c *readConn) uint64 {
	if c.id == 0 {
		r.nextID++
		r.stats.Conns++
		c.id = r.nextID
	}
	return c.id
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// newConn starts a connection at line l, which fixes the roles (see the
// Reader doc).
func (r *Reader) newConn(key connKey, l *logLine) *readConn {
	sender, receiver := l.a, l.b
	if l.dir == '<' {
		sender, receiver = receiver, sender
	}
	var client, server netip.AddrPort
	switch {
	case l.typ == lineSYN || l.typ == lineSEQ:
		client, server = sender, receiver
	case l.typ == lineSAK || l.typ == lineRTT:
		client, server = receiver, sender
	case l.dir == 'x' || l.typ == lineEND:
		// No sender: the port guess, else the first printed is the server.
		if guessServer(l.a.Port(), l.b.Port()) == 2 {
			client, server = l.a, l.b
		} else {
			client, server = l.b, l.a
		}
	case guessServer(sender.Port(), receiver.Port()) == 1:
		client, server = receiver, sender
	default:
		client, server = sender, receiver
	}
	r.nextSeq++
	c := &readConn{key: key, seq: r.nextSeq, client: client, server: server}
	c.label = r.label(client.Addr(), server.Addr())
	c.sum.FirstNs, c.sum.LastNs = l.ts, l.ts
	c.sum.RTTNs, c.sum.AckRTTNs = -1, -1
	c.sum.C2S.WScale, c.sum.S2C.WScale = -1, -1
	c.sum.Label = c.label
	switch l.typ {
	case lineSYN:
		c.sum.Handshake = ingest.HandshakeSYN
		c.sum.SynNs = l.ts
		c.sum.SynAttempts = 1
	case lineSAK:
		c.sum.Handshake = ingest.HandshakeSYNACK
		c.sum.SynNs = l.ts
		c.sum.SynAckAttempts = 1
	case lineSEQ, lineEND:
		// Begun at a SYN-ACK the log does not show: the engine prints no
		// line for a SYN-ACK that starts a connection (adudump prints
		// SAK: in its logs this is a connection older than the log).
		// Tracked from its handshake, so not partial.
		c.sum.Handshake = ingest.HandshakeSYNACK
		c.sum.SynAckAttempts = 1
	default:
		c.sum.Partial = true
	}
	if l.typ == linePART {
		c.established = true
		c.sum.EstablishedNs = l.ts
	}
	r.conns[key] = c
	c.lruElem = r.lru.PushBack(c)
	return c
}

// guessServer is the engine's guess of the server of a connection whose
// handshake was not seen, from the ports p and q: 1 if p is the server's, 2
// if q is, 0 when the ports do not tell (the engine then takes the sender of
// the first data as the client).
func guessServer(p, q uint16) int {
	switch {
	case p < 1024 && q >= 1024:
		return 1
	case q < 1024 && p >= 1024:
		return 2
	case p < 49152 && q >= 49152:
		return 1
	case q < 49152 && p >= 49152:
		return 2
	}
	return 0
}

// label is the engine's locality label of a client→server connection.
func (r *Reader) label(client, server netip.Addr) ingest.Label {
	if len(r.nets) == 0 {
		return ingest.LabelUnknown
	}
	ci, si := r.isLocal(client), r.isLocal(server)
	switch {
	case ci && si:
		return ingest.LabelLocal
	case si:
		return ingest.LabelIn
	case ci:
		return ingest.LabelOut
	}
	return ingest.LabelExternal
}

func (r *Reader) isLocal(a netip.Addr) bool {
	for _, p := range r.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// end queues c's END record at ts and forgets c.
func (r *Reader) end(c *readConn, reason ingest.EndReason, ts int64, d ingest.Dir) {
	if c.waiting {
		// No next ADU came: the boundary is not in the log.
		r.guess(c)
	}
	sum := new(ingest.ConnSummary)
	*sum = c.sum
	sum.End = reason
	sum.EndNs = ts
	if reason != ingest.EndUnrecorded {
		r.stats.EndsSynthesized++
	}
	r.push(ingest.Record{Kind: ingest.KindEND, TsNs: ts, ConnID: r.connID(c),
		Client: c.client, Server: c.server, Dir: d, Label: c.label, ThinkNs: -1, AckRTTNs: -1,
		Conn: sum, Reason: reason})
	delete(r.conns, c.key)
	r.lru.Remove(c.lruElem)
}

// finish ends the connections still open at the end of the log, at the
// latest time read, in the engine's order: by last activity, then first line.
func (r *Reader) finish() {
	open := make([]*readConn, 0, len(r.conns))
	for _, c := range r.conns {
		open = append(open, c)
	}
	slices.SortFunc(open, func(a, b *readConn) int {
		if a.sum.LastNs != b.sum.LastNs {
			if a.sum.LastNs < b.sum.LastNs {
				return -1
			}
			return 1
		}
		if a.seq < b.seq {
			return -1
		}
		return 1
	})
	for _, c := range open {
		r.end(c, ingest.EndEOF, r.now, c.lastDir)
	}
}

// OpenLog opens an adudump text log for NewReader, or standard input when
// path is "-". gzip (1f 8b, concatenated members allowed) and zstd
// (28 b5 2f fd, concatenated frames allowed) are detected by magic number,
// not by file name, and decompressed (by capture.Decompress, as captures
// are); anything else is returned as it is. A fault of the compression
// layer, from OpenLog or from reading, is or wraps a
// *capture.DecompressError naming its byte offset in the compressed file.
// Closing the result releases the decompressor and the file (standard
// input is not closed).
func OpenLog(path string) (io.ReadCloser, error) {
	var (
		in        io.Reader = os.Stdin
		closeFile           = func() error { return nil }
	)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open adudump log: %w", err)
		}
		in, closeFile = f, f.Close
	}
	rc, _, err := capture.Decompress(in)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("read %s: %w", path, err), closeFile())
	}
	return &logFile{Reader: rc, close: func() error { return errors.Join(rc.Close(), closeFile()) }}, nil
}

// logFile is what OpenLog returns.
type logFile struct {
	io.Reader
	close func() error
}

func (f *logFile) Close() error { return f.close() }
