package main

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// ipv4Header returns a 20-byte IPv4 header (plus opts) from src to dst with
// a valid checksum.
func ipv4Header(src, dst [4]byte, opts []byte) []byte {
	h := make([]byte, 20, 20+len(opts))
	h[0] = 0x40 | byte((20+len(opts))/4)
	h[8], h[9] = 64, 6
	copy(h[12:16], src[:])
	copy(h[16:20], dst[:])
	h = append(h, opts...)
	binary.BigEndian.PutUint16(h[10:12], ^onesSum(h))
	return h
}

// onesSum is the folded one's-complement sum of b's 16-bit words.
func onesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func ether(etherTypes []uint16, payload []byte) []byte {
	b := make([]byte, 12)
	for i, et := range etherTypes {
		b = binary.BigEndian.AppendUint16(b, et)
		if i < len(etherTypes)-1 {
			b = append(b, 0, 7) // TCI
		}
	}
	return append(b, payload...)
}

func TestRewriteAddrs(t *testing.T) {
	v4 := ipv4Header([4]byte{10, 1, 2, 3}, [4]byte{192, 168, 0, 255}, nil)
	v4opts := ipv4Header([4]byte{10, 1, 2, 3}, [4]byte{192, 168, 0, 255}, []byte{1, 1, 1, 0})
	v6 := make([]byte, 40)
	v6[0] = 0x60
	v6[23], v6[39] = 1, 2
	tests := []struct {
		name       string
		frame      []byte
		key        uint16
		ipOff      int
		src, dst   []byte // expected addresses; nil: frame unchanged
		addrOffset [2]int
	}{
		{"ipv4", ether([]uint16{etherTypeIPv4}, v4), 0x0102, 14,
			[]byte{10, 1, 3, 1}, []byte{192, 168, 1, 253}, [2]int{12, 16}},
		{"ipv4 options", ether([]uint16{etherTypeIPv4}, v4opts), 7, 14,
			[]byte{10, 1, 2, 4}, []byte{192, 168, 0, 248}, [2]int{12, 16}},
		{"ipv4 vlan", ether([]uint16{etherTypeVLAN, etherTypeIPv4}, v4), 1, 18,
			[]byte{10, 1, 2, 2}, []byte{192, 168, 0, 254}, [2]int{12, 16}},
		{"ipv4 qinq", ether([]uint16{etherTypeQinQ, etherTypeVLAN, etherTypeIPv4}, v4), 1, 22,
			[]byte{10, 1, 2, 2}, []byte{192, 168, 0, 254}, [2]int{12, 16}},
		{"ipv6", ether([]uint16{etherTypeIPv6}, v6), 0x0303, 14,
			append(make([]byte, 14), 3, 2), append(make([]byte, 14), 3, 1), [2]int{8, 24}},
		{"key zero", ether([]uint16{etherTypeIPv4}, v4), 0, 14, nil, nil, [2]int{}},
		{"arp", ether([]uint16{0x0806}, v4), 1, 14, nil, nil, [2]int{}},
		{"ipv4 cut in dst", ether([]uint16{etherTypeIPv4}, v4)[:14+19], 1, 14, nil, nil, [2]int{}},
		{"ipv6 version mismatch", ether([]uint16{etherTypeIPv6}, v4), 1, 14, nil, nil, [2]int{}},
		{"cut in vlan tag", ether([]uint16{etherTypeVLAN, etherTypeIPv4}, v4)[:15], 1, 0, nil, nil, [2]int{}},
		{"empty", nil, 1, 0, nil, nil, [2]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), tc.frame...)
			rewriteAddrs(b, tc.key)
			if tc.src == nil {
				require.Equal(t, tc.frame, b)
				return
			}
			ip := b[tc.ipOff:]
			n := len(tc.src)
			require.Equal(t, tc.src, ip[tc.addrOffset[0]:tc.addrOffset[0]+n])
			require.Equal(t, tc.dst, ip[tc.addrOffset[1]:tc.addrOffset[1]+n])
			if ip[0]>>4 == 4 {
				require.Equal(t, uint16(0xffff), onesSum(ip[:int(ip[0]&0xf)*4]), "IPv4 header checksum")
			}
			rewriteAddrs(b, tc.key)
			require.Equal(t, tc.frame, b, "the same key twice restores the frame")
		})
	}
}

// TestRewriteChecksumRandom checks the incremental checksum update against a
// full recomputation over random headers and keys, including the ones whose
// checksum field is 0x0000 or 0xffff before or after.
func TestRewriteChecksumRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var src, dst [4]byte
		binary.BigEndian.PutUint32(src[:], r.Uint32())
		binary.BigEndian.PutUint32(dst[:], r.Uint32())
		h := ipv4Header(src, dst, nil)
		binary.BigEndian.PutUint16(h[4:6], uint16(r.Uint32())) // IP ID
		binary.BigEndian.PutUint16(h[10:12], 0)
		binary.BigEndian.PutUint16(h[10:12], ^onesSum(h))
		b := ether([]uint16{etherTypeIPv4}, h)
		rewriteAddrs(b, uint16(r.Uint32()))
		require.Equal(t, uint16(0xffff), onesSum(b[14:34]))
	}
}
