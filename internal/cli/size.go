package cli

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a flag value in bytes, written as an integer with an optional
// unit: B, the binary KiB, MiB, GiB, TiB (as GOMEMLIMIT writes them) or the
// decimal KB, MB, GB, TB. Units are case-insensitive; a bare number is
// bytes.
type ByteSize int64

// sizeUnits are the units ByteSize accepts, largest first in each system
// (only the order of printing depends on it).
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

// String prints the size with the largest binary unit that divides it.
func (b *ByteSize) String() string {
	v := int64(*b)
	for _, u := range sizeUnits[:4] {
		if v != 0 && v%u.mult == 0 {
			return strconv.FormatInt(v/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(v, 10) + "B"
}

// Set parses s.
func (b *ByteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if len(t) > len(u.name) && strings.EqualFold(t[len(t)-len(u.name):], u.name) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.name)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return errors.New("must be a size such as 256MiB, 1GiB or 500MB")
	}
	*b = ByteSize(n * mult)
	return nil
}

// Type names the value in the flag list.
func (b *ByteSize) Type() string { return "size" }

// SizeString prints n bytes as a ByteSize flag reads them.
func SizeString(n int64) string {
	b := ByteSize(n)
	return b.String()
}
