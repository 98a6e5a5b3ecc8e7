package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Sentinel causes wrapped by *FormatError, for errors.Is.
var (
	// ErrUnknownFormat means the input is none of the supported formats.
	ErrUnknownFormat = errors.New("capture: unknown format")
	// ErrAbsurdLength means a length field exceeds the package's limits
	// (MaxPcapRecord, MaxBlockLen) and the input is taken to be corrupt.
	ErrAbsurdLength = errors.New("capture: absurd length")
)

// Options tunes how an input is opened.
type Options struct {
	// Format forces the container format. The zero value, FormatAuto,
	// detects it from the leading bytes (ERF by heuristic, see the package
	// doc). Forcing is useful for ERF files the heuristic rejects.
	Format Format

	// maxStream, when positive, ends the (decompressed) stream after that
	// many bytes. Fuzz tests use it to defuse decompression bombs.
	maxStream int64
}

// DefaultOptions returns the options Open uses: detect everything.
func DefaultOptions() Options { return Options{} }

// Open opens a capture file, or standard input when path is "-", with
// DefaultOptions.
func Open(path string) (Source, error) { return OpenOptions(path, DefaultOptions()) }

// OpenOptions is Open with explicit options. Standard input is not closed by
// the Source's Close.
func OpenOptions(path string, opts Options) (Source, error) {
	if path == "-" {
		return openStream(path, os.Stdin, opts, nil)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	src, err := openStream(path, f, opts, f.Close)
	if err != nil {
		return nil, joinClose(err, f.Close())
	}
	return src, nil
}

// OpenReader reads a capture from r, which is named name in errors. The
// Source's Close does not close r.
func OpenReader(name string, r io.Reader) (Source, error) {
	return OpenReaderOptions(name, r, DefaultOptions())
}

// OpenReaderOptions is OpenReader with explicit options.
func OpenReaderOptions(name string, r io.Reader, opts Options) (Source, error) {
	return openStream(name, r, opts, nil)
}

// base is the state shared by the format readers: the stream, the sticky
// error, the counters and what Close must release.
type base struct {
	name    string
	br      *bufReader
	err     error
	stats   Stats
	closers []func() error
	closed  bool
}

// Name returns the input's name.
func (b *base) Name() string { return b.name }

// Stats returns a snapshot of the counters.
func (b *base) Stats() Stats { return b.stats }

// Close releases the decompressor and the file, if this package opened it.
func (b *base) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.err == nil {
		b.err = ErrClosed
	}
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	return errors.Join(errs...)
}

// fail records and returns a FormatError at off for the packet being read.
func (b *base) fail(off int64, err error) error {
	b.err = &FormatError{File: b.name, Offset: off, Packet: b.stats.Packets + 1, Compression: b.stats.Compression, Err: err}
	return b.err
}

// failHeader is fail for faults in a file header, before any packet.
func (b *base) failHeader(off int64, err error) error {
	b.err = &FormatError{File: b.name, Offset: off, Compression: b.stats.Compression, Err: err}
	return b.err
}

// readErr turns an error from bufReader.fill into a cause for a record
// starting at the current offset: truncation becomes io.ErrUnexpectedEOF
// wrapped with what was being read.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// account updates the counters for a packet about to be returned.
func (b *base) account(p *Packet) {
	if len(p.Data) > p.OrigLen {
		p.OrigLen = len(p.Data)
		b.stats.OrigLenRaised++
	}
	b.stats.Packets++
	b.stats.Bytes += int64(len(p.Data))
}

func openStream(name string, r io.Reader, opts Options, closeFile func() error) (Source, error) {
	b := &base{name: name}
	raw := newBufReader(r)
	stream, comp, release, err := decompress(raw)
	b.stats.Compression = comp // also when it fails: it says what Offset counts
	if err != nil {
		return nil, b.failHeader(0, err)
	}
	b.br = raw
	if comp != "" {
		b.closers = append(b.closers, func() error { release(); return nil })
		b.br = newBufReader(stream)
	}
	if opts.maxStream > 0 {
		b.br.r = io.LimitReader(b.br.r, opts.maxStream-int64(b.br.buffered()))
	}
	src, err := openFormat(b, opts.Format)
	if err != nil {
		// The decompressor is ours to release; the file is the caller's.
		return nil, joinClose(err, b.Close())
	}
	if closeFile != nil {
		// Closers run last to first: the file after the decompressor.
		b.closers = append([]func() error{closeFile}, b.closers...)
	}
	return src, nil
}

// openFormat detects (or takes) the container format and reads its header.
func openFormat(b *base, f Format) (Source, error) {
	if f == FormatAuto {
		var err error
		if f, err = detect(b); err != nil {
			return nil, err
		}
	}
	b.stats.Format = f
	switch f {
	case FormatPcap:
		return newPcapReader(b)
	case FormatPcapNG:
		return newPcapNGReader(b)
	case FormatERF:
		return newERFReader(b), nil
	}
	return nil, b.failHeader(0, fmt.Errorf("%w: format %v", ErrUnknownFormat, f))
}

// detect identifies the container from the leading bytes of the stream.
func detect(b *base) (Format, error) {
	head, err := b.br.peekUpTo(erfHeaderLen)
	if err != nil {
		return FormatAuto, b.failHeader(0, fmt.Errorf("read magic: %w", err))
	}
	if len(head) == 0 {
		return FormatAuto, b.failHeader(0, fmt.Errorf("%w: empty input", ErrUnknownFormat))
	}
	if len(head) >= 4 {
		if _, _, _, ok := pcapMagic(head); ok {
			return FormatPcap, nil
		}
		if binary.BigEndian.Uint32(head) == blockSHB {
			return FormatPcapNG, nil
		}
	}
	if looksLikeERF(b.br) {
		return FormatERF, nil
	}
	return FormatAuto, b.failHeader(0, fmt.Errorf("%w: first bytes % x", ErrUnknownFormat, head[:min(len(head), 8)]))
}

// joinClose adds a close error to err without hiding err's type when there is
// none, so callers can still type-assert a *FormatError.
func joinClose(err, closeErr error) error {
	if closeErr == nil {
		return err
	}
	return errors.Join(err, closeErr)
}
