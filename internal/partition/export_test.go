package partition

import "bytes"

// Name is a short text in a pointer-free form, for the compact rows of
// tests: its bytes, padded with zeros, so that comparing two Names'
// bytes orders them as their texts.
type Name [24]byte

// NameOf returns s as a Name; s must fit.
func NameOf(s string) Name {
	var n Name
	if copy(n[:], s) < len(s) {
		panic("partition: name too long: " + s)
	}
	return n
}

// String returns the text.
func (n Name) String() string {
	if i := bytes.IndexByte(n[:], 0); i >= 0 {
		return string(n[:i])
	}
	return string(n[:])
}

// Compare orders Names as their texts.
func (n Name) Compare(m Name) int { return bytes.Compare(n[:], m[:]) }
