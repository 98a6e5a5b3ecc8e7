// Package anonymize maps IP addresses to others, consistently and
// prefix-preservingly, for data sets that are published: Crypto-PAn (Xu,
// Fan, Ammar and Moon, "Prefix-preserving IP address anonymization", ICNP
// 2002), for IPv4 and IPv6, under a 32-byte key kept in a key file.
//
// Two addresses that share their first k bits are mapped to two addresses
// that share their first k bits, and no more: subnets stay subnets, and a
// release's addresses can be compared with another release's made with the
// same key. Without the key the mapping cannot be inverted (short of
// attacks that know some addresses' true values; see docs/publishing.md).
package anonymize

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
)

// KeySize is the size of a Crypto-PAn key: 16 bytes of AES-128 key, then
// 16 bytes whose encryption is the pad.
const KeySize = 32

// CryptoPAn anonymizes addresses under one key. It is safe for concurrent
// use; it remembers the addresses it has mapped.
type CryptoPAn struct {
	block cipher.Block
	pad   [16]byte

	mu    sync.Mutex
	cache map[netip.Addr]netip.Addr
}

// New returns the anonymizer of key.
func New(key [KeySize]byte) (*CryptoPAn, error) {
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("crypto-pan: %w", err)
	}
	c := &CryptoPAn{block: block, cache: map[netip.Addr]netip.Addr{}}
	block.Encrypt(c.pad[:], key[16:])
	return c, nil
}

// Addr returns a's anonymized address: an IPv4 address for an IPv4 one
// (32 bits), an IPv6 address for an IPv6 one (128 bits; an IPv4-mapped
// IPv6 address is an IPv6 address like any other). The zone is dropped.
func (c *CryptoPAn) Addr(a netip.Addr) netip.Addr {
	a = a.WithZone("")
	c.mu.Lock()
	out, ok := c.cache[a]
	c.mu.Unlock()
	if ok {
		return out
	}
	if a.Is4() {
		b := a.As4()
		v := c.bits(uint64(binary.BigEndian.Uint32(b[:]))<<32, 0, 32)
		binary.BigEndian.PutUint32(b[:], uint32(v>>32))
		out = netip.AddrFrom4(b)
	} else {
		b := a.As16()
		hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
		nhi := c.bits(hi, lo, 64)
		nlo := c.bitsLow(hi, lo)
		binary.BigEndian.PutUint64(b[:8], nhi)
		binary.BigEndian.PutUint64(b[8:], nlo)
		out = netip.AddrFrom16(b)
	}
	c.mu.Lock()
	c.cache[a] = out
	c.mu.Unlock()
	return out
}

// flip returns the bit Crypto-PAn XORs into the address's bit at position
// pos (0 is the most significant of the 128-bit block): the first bit of
// the encryption of the address's first pos bits followed by the pad's
// bits from pos on. hi and lo are the address's 128 bits (an IPv4 address
// in hi's top 32).
func (c *CryptoPAn) flip(hi, lo uint64, pos int) uint64 {
	var in [16]byte
	phi, plo := binary.BigEndian.Uint64(c.pad[:8]), binary.BigEndian.Uint64(c.pad[8:])
	var mhi, mlo uint64 // mask of the address's first pos bits
	switch {
	case pos == 0:
	case pos < 64:
		mhi = ^uint64(0) << (64 - pos)
	case pos == 64:
		mhi = ^uint64(0)
	default:
		mhi, mlo = ^uint64(0), ^uint64(0)<<(128-pos)
	}
	binary.BigEndian.PutUint64(in[:8], hi&mhi|phi&^mhi)
	binary.BigEndian.PutUint64(in[8:], lo&mlo|plo&^mlo)
	var out [16]byte
	c.block.Encrypt(out[:], in[:])
	return uint64(out[0] >> 7)
}

// bits returns the first n (at most 64) anonymized bits of the address
// hi, lo, in the top of the result.
func (c *CryptoPAn) bits(hi, lo uint64, n int) uint64 {
	var r uint64
	for pos := range n {
		r |= c.flip(hi, lo, pos) << (63 - pos)
	}
	return hi ^ r&(^uint64(0)<<(64-n))
}

// bitsLow returns the last 64 anonymized bits of the IPv6 address hi, lo.
func (c *CryptoPAn) bitsLow(hi, lo uint64) uint64 {
	var r uint64
	for pos := 64; pos < 128; pos++ {
		r |= c.flip(hi, lo, pos) << (127 - pos)
	}
	return lo ^ r
}

// Prefix returns the anonymized network of p: its masked address
// anonymized, with the same length. Every address in p is anonymized
// into the result (prefix preservation).
func (c *CryptoPAn) Prefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	return netip.PrefixFrom(c.Addr(p.Addr()), p.Bits()).Masked()
}
