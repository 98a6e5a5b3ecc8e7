// Package live reads packets from network interfaces as they pass, for a
// sensor that archives a link without writing its packets to disk first.
//
// On Linux it is an AF_PACKET socket with a memory-mapped ring (TPACKET_V3,
// through gopacket's afpacket package) that hears every interface and keeps,
// by a filter in the kernel, the frames of the interfaces named: the kernel
// queues them in the order they arrived, so the two directions of a tap
// come out merged in time order without a merge here. The same filter cuts
// each frame to the snap length (header-only by default), so the ring holds
// headers only. With Options.Fanout the kernel spreads the frames over
// several such sockets by flow, each read by a goroutine of its own, and a
// merge puts them back in time order (merge.go).
package live

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of Options.
const (
	// DefaultSnapLen keeps the headers a-b-t inference reads: Ethernet with
	// two VLAN tags (22 bytes), IPv6 with 40 bytes of extension headers (80)
	// and TCP with the largest options (60), and some to spare.
	DefaultSnapLen = 192
	// DefaultRingBytes is the ring's size: at 192-byte frames (about 240
	// bytes each in the ring) some 280,000 packets, a quarter of a second
	// of a 1 Mpps link the reader has fallen behind on.
	DefaultRingBytes = 64 << 20
	// DefaultPoll is how long Next waits for a packet before it returns
	// capture.ErrIdle, so that its reader's clock moves and a signal acts
	// on a quiet link.
	DefaultPoll = 250 * time.Millisecond
)

// Options configure a live source; zero fields take the defaults.
type Options struct {
	SnapLen   int           // bytes kept of each frame
	RingBytes int           // the ring's size in bytes (rounded down to whole blocks)
	Poll      time.Duration // longest wait for a packet before capture.ErrIdle
	// Filter keeps only the frames it matches, in the kernel: a subset of
	// tcpdump's expressions (see filter.go); "" keeps every frame.
	Filter string
	// Fanout, above 1, is how many sockets the kernel spreads the frames
	// over, by a hash of their flow (PACKET_FANOUT_HASH, both directions
	// of a connection to one socket), each with its own share of the ring
	// and a reader of its own, merged back in time order (see merge.go).
	Fanout int
}

// MaxFanout is the most sockets of a fanout group.
const MaxFanout = 64

func (o Options) withDefaults() Options {
	if o.SnapLen <= 0 {
		o.SnapLen = DefaultSnapLen
	}
	if o.RingBytes <= 0 {
		o.RingBytes = DefaultRingBytes
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	return o
}

// Stats are a live source's counters since it opened.
type Stats struct {
	// Packets is the frames read, and Bytes their lengths on the wire.
	Packets, Bytes uint64
	// Drops is the frames the kernel dropped because the ring was full (the
	// reader fell behind), as PACKET_STATISTICS counts them.
	Drops uint64
	// Foreign is the frames of other interfaces read before the kernel's
	// filter was attached, and set aside.
	Foreign uint64
	// IfaceDrops is what the interfaces themselves dropped on receive
	// since the capture opened (their rx "drop" counters in
	// /proc/net/dev: the driver's or the NIC's, before the kernel's ring).
	IfaceDrops uint64
}

// rxDrops sums the receive drop counters of the named interfaces in a
// /proc/net/dev text.
func rxDrops(procNetDev string, names []string) (uint64, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var sum uint64
	found := 0
	for _, line := range strings.Split(procNetDev, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !want[strings.TrimSpace(name)] {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 4 {
			return 0, fmt.Errorf("/proc/net/dev: interface %s: %d fields", strings.TrimSpace(name), len(f))
		}
		d, err := strconv.ParseUint(f[3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/net/dev: interface %s: drop count %q", strings.TrimSpace(name), f[3])
		}
		sum += d
		found++
	}
	if found != len(want) {
		return 0, fmt.Errorf("/proc/net/dev: %d of the interfaces %s found", found, strings.Join(names, ", "))
	}
	return sum, nil
}
