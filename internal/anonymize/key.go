package anonymize

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A key file holds a key as 64 hexadecimal digits and a newline, readable
// by its owner only.

// LoadKey reads the key file at path. It refuses a file that others than
// its owner may read, or that does not hold exactly a key.
func LoadKey(path string) ([KeySize]byte, error) {
	var key [KeySize]byte
	f, err := os.Open(path)
	if err != nil {
		return key, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return key, fmt.Errorf("key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return key, fmt.Errorf("key file %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return key, fmt.Errorf("key file %s: readable by others than its owner (mode %04o): chmod 600 it", path, perm)
	}
	b := make([]byte, 2*KeySize+2)
	n, _ := f.Read(b)
	text := bytes.TrimRight(b[:n], "\n")
	if len(text) != 2*KeySize {
		return key, fmt.Errorf("key file %s: not a key (%d hexadecimal digits and a newline)", path, 2*KeySize)
	}
	if _, err := hex.Decode(key[:], text); err != nil {
		return key, fmt.Errorf("key file %s: not a key: %w", path, err)
	}
	return key, nil
}

// LoadOrCreateKey reads the key file at path, or, when there is none,
// creates it with a new random key (mode 0600, written whole or not at
// all) and says so.
func LoadOrCreateKey(path string) (key [KeySize]byte, created bool, err error) {
	key, err = LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return key, false, fmt.Errorf("key file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return key, false, fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600.
	_, err = fmt.Fprintf(tmp, "%x\n", key[:])
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, not rename: a key file created meanwhile by another
		// export is not replaced.
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		key, err = LoadKey(path)
		return key, false, err
	}
	if err != nil {
		return key, false, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, true, nil
}
