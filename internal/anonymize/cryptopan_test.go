package anonymize

import (
	"bufio"
	"encoding/hex"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// vectors reads testdata/cryptopan-vectors.txt: the key and the pairs.
func vectors(t *testing.T) ([KeySize]byte, [][2]netip.Addr) {
	t.Helper()
	f, err := os.Open("testdata/cryptopan-vectors.txt")
	require.NoError(t, err)
	defer f.Close()
	var key [KeySize]byte
	var pairs [][2]netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 0 || strings.HasPrefix(fields[0], "#"):
		case fields[0] == "key":
			_, err := hex.Decode(key[:], []byte(fields[1]))
			require.NoError(t, err)
		default:
			pairs = append(pairs, [2]netip.Addr{netip.MustParseAddr(fields[0]), netip.MustParseAddr(fields[1])})
		}
	}
	require.NoError(t, sc.Err())
	return key, pairs
}

// TestVectors: the published Crypto-PAn sample (IPv4) and an independent
// implementation's IPv6 outputs.
func TestVectors(t *testing.T) {
	key, pairs := vectors(t)
	require.Len(t, pairs, 76)
	c, err := New(key)
	require.NoError(t, err)
	for _, p := range pairs {
		require.Equal(t, p[1], c.Addr(p[0]), "%s", p[0])
		require.Equal(t, p[1], c.Addr(p[0]), "%s, cached", p[0])
	}
}

// common is the number of leading bits a and b share.
func common(a, b netip.Addr) int {
	x, y := a.AsSlice(), b.AsSlice()
	n := 0
	for i := range x {
		if x[i] != y[i] {
			return n + bits.LeadingZeros8(x[i]^y[i])
		}
		n += 8
	}
	return n
}

// TestPrefixPreserving: on random pairs of addresses, and pairs that share
// a random prefix, the anonymized pair shares exactly as many leading bits
// as the original; no two addresses of the sample collide.
func TestPrefixPreserving(t *testing.T) {
	var key [KeySize]byte
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	c, err := New(key)
	require.NoError(t, err)
	random := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	seen := map[netip.Addr]netip.Addr{}
	for i := range 4000 {
		v6 := i%2 == 1
		a := random(v6)
		b := random(v6)
		if i%4 < 2 { // b shares a random prefix of a
			k := rng.IntN(a.BitLen() + 1)
			p, err := a.Prefix(k)
			require.NoError(t, err)
			bb, ab := b.AsSlice(), p.Addr().AsSlice()
			for j := range bb {
				keep := max(0, min(8, k-8*j))
				mask := byte(0xff) << (8 - keep)
				if keep == 0 {
					mask = 0
				}
				bb[j] = ab[j]&mask | bb[j]&^mask
			}
			b, _ = netip.AddrFromSlice(bb)
		}
		ca, cb := c.Addr(a), c.Addr(b)
		require.Equal(t, a.Is4(), ca.Is4())
		require.Equal(t, common(a, b), common(ca, cb), "%s %s -> %s %s", a, b, ca, cb)
		for _, x := range [][2]netip.Addr{{a, ca}, {b, cb}} {
			if prev, ok := seen[x[1]]; ok {
				require.Equal(t, prev, x[0], "%s and %s both map to %s", prev, x[0], x[1])
			}
			seen[x[1]] = x[0]
		}
		// A prefix maps onto the prefix of its addresses' images.
		k := rng.IntN(a.BitLen() + 1)
		p, _ := a.Prefix(k)
		cp := c.Prefix(p)
		require.True(t, cp.Contains(ca), "%s (%s) should hold %s (%s)", cp, p, ca, a)
	}
}

// TestKeyFile: a key file is created 0600 and read back; one readable by
// others, or that holds no key, is refused with its name.
func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "abt.key")
	k1, created, err := LoadOrCreateKey(path)
	require.NoError(t, err)
	require.True(t, created)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k2, created, err := LoadOrCreateKey(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, k1, k2)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = LoadKey(path)
	require.ErrorContains(t, err, "key file "+path+": readable by others than its owner (mode 0644)")
	bad := filepath.Join(dir, "bad.key")
	require.NoError(t, os.WriteFile(bad, []byte("00112233\n"), 0o600))
	_, _, err = LoadOrCreateKey(bad)
	require.ErrorContains(t, err, "key file "+bad+": not a key")
}
