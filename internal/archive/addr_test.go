package archive

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testAddrs are addresses whose texts sort differently from their values:
// octets of one, two and three digits ("9" > "10" > "100" as text),
// IPv6 with and without zero compression, IPv4-mapped IPv6, zones, and the
// invalid address.
var testAddrs = []string{
	"0.0.0.0", "1.2.3.4", "9.0.0.1", "10.0.0.1", "10.0.0.10", "10.0.0.2", "100.0.0.1", "99.255.255.255",
	"192.168.1.1", "192.168.10.1", "192.168.100.1", "255.255.255.255", "2.255.0.0", "25.1.1.1", "250.1.1.1",
	"::", "::1", "::ffff:1.2.3.4", "::ffff:10.0.0.1", "2001:db8::1", "2001:db8::10", "2001:db8:0:1::1",
	"fe80::1", "fe80::1%eth0", "fe80::1%eth1", "fe80::2%eth0", "ff02::1", "1::", "9::", "a::1",
}

func parseAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	if s == "invalid IP" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	require.NoError(t, err, s)
	return a
}

// TestAddrRoundTrip: every address comes back from its addr, with the text
// netip.Addr prints; two addrs are equal when their addresses are.
func TestAddrRoundTrip(t *testing.T) {
	var tab addrs
	var text textCache
	seen := map[addr]netip.Addr{}
	for _, s := range append(slices.Clone(testAddrs), "invalid IP") {
		a := parseAddr(t, s)
		x := tab.of(a)
		require.Equal(t, a, tab.addr(x), s)
		require.Equal(t, a.String(), tab.textOf(&text, x), s)
		require.Equal(t, a.String(), tab.textOf(&text, x), "%s: from the cache", s)
		require.Equal(t, a.String(), string(tab.appendText(nil, x)), s)
		require.Equal(t, x, tab.of(a), "%s: the same addr again", s)
		if prev, ok := seen[x]; ok {
			require.Equal(t, prev, a, "two addresses, one addr")
		}
		seen[x] = a
	}
	require.Len(t, tab.zoned, 3, "only zoned addresses are kept in the table")
}

// TestAddrOrderIsStringOrder compares addrs.cmp with strings.Compare of the
// texts: every pair of the test addresses, every IPv4 octet in every
// position, and random IPv4 pairs.
func TestAddrOrderIsStringOrder(t *testing.T) {
	var tab addrs
	check := func(a, b netip.Addr) {
		t.Helper()
		want := strings.Compare(a.String(), b.String())
		require.Equal(t, want, tab.cmp(tab.of(a), tab.of(b)), "%s vs %s", a, b)
	}
	all := append(slices.Clone(testAddrs), "invalid IP")
	for _, x := range all {
		for _, y := range all {
			check(parseAddr(t, x), parseAddr(t, y))
		}
	}
	for pos := range 4 {
		for i := range 256 {
			for j := range 256 {
				var a, b [4]byte
				a[pos], b[pos] = byte(i), byte(j)
				a[3-pos] |= 7 // a later octet that differs from the default
				check(netip.AddrFrom4(a), netip.AddrFrom4(b))
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}),
			netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}))
	}
}

func TestOctetOrder(t *testing.T) {
	for i := range 256 {
		for j := range 256 {
			require.Equal(t, strings.Compare(strconv.Itoa(i), strconv.Itoa(j)), cmp.Compare(octetOrder[i], octetOrder[j]), "%d vs %d", i, j)
		}
	}
}
