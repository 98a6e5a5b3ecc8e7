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
