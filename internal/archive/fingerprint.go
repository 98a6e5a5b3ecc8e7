package archive

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// fingerprintSpan is how much of an input's head and tail the fingerprint
// reads.
const fingerprintSpan = 1 << 20

// Fingerprint identifies an input file by content, cheaply: SHA-256 over
// its size, its first MiB and its last MiB. Captures and logs carry
// timestamps in those bytes, so two different inputs practically never
// share a fingerprint, while a renamed or copied file keeps its own.
func Fingerprint(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("fingerprint input: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("fingerprint input: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", nil // a pipe or device cannot be identified
	}
	h := sha256.New()
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(st.Size()))
	h.Write(size[:])
	if _, err := io.Copy(h, io.LimitReader(f, fingerprintSpan)); err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", path, err)
	}
	if st.Size() > fingerprintSpan {
		off := max(st.Size()-fingerprintSpan, fingerprintSpan)
		if _, err := io.Copy(h, io.NewSectionReader(f, off, st.Size()-off)); err != nil {
			return "", fmt.Errorf("fingerprint %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// StreamFingerprint computes Fingerprint over bytes written to it, for an
// input that can be read only once (standard input): the same bytes give
// the same fingerprint as Fingerprint gives for a file holding them. It
// keeps the first and the last MiB (2 MiB of memory).
type StreamFingerprint struct {
	size int64
	head []byte
	tail []byte // ring of the bytes after head, the last fingerprintSpan of them
	next int    // where the ring's next byte goes, once it is full
}

// Write adds bytes; it never fails.
func (s *StreamFingerprint) Write(p []byte) (int, error) {
	n := len(p)
	s.size += int64(n)
	if room := fingerprintSpan - len(s.head); room > 0 {
		take := min(room, len(p))
		s.head = append(s.head, p[:take]...)
		p = p[take:]
	}
	if len(p) >= fingerprintSpan {
		p = p[len(p)-fingerprintSpan:]
		s.tail = append(s.tail[:0], p...)
		s.next = 0
		return n, nil
	}
	for len(p) > 0 {
		if len(s.tail) < fingerprintSpan {
			take := min(fingerprintSpan-len(s.tail), len(p))
			s.tail = append(s.tail, p[:take]...)
			p = p[take:]
			continue
		}
		c := copy(s.tail[s.next:], p)
		s.next = (s.next + c) % fingerprintSpan
		p = p[c:]
	}
	return n, nil
}

// Sum returns the fingerprint of the bytes written so far.
func (s *StreamFingerprint) Sum() string {
	h := sha256.New()
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(s.size))
	h.Write(size[:])
	h.Write(s.head)
	if len(s.tail) < fingerprintSpan {
		h.Write(s.tail)
	} else {
		h.Write(s.tail[s.next:])
		h.Write(s.tail[:s.next])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
