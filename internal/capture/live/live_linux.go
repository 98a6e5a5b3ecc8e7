package live

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/abt-dev/abt/internal/capture"
)

// blockBytes is the size of one block of the TPACKET_V3 ring; the kernel
// hands the reader a block when it is full or blockTimeout passed.
const (
	blockBytes   = 1 << 20
	blockTimeout = 10 * time.Millisecond
)

// Source is a live capture of one or more interfaces; it implements
// capture.Source. It is not safe for concurrent use.
type Source struct {
	name   string
	names  []string
	rxBase uint64 // the interfaces' receive drops when the capture opened
	tp     *afpacket.TPacket
	link   capture.LinkType
	ifaces map[int]int // kernel interface index → place in the names given (Packet.Iface)
	buf    []byte
	stats  Stats
	err    error

	// With a fanout group: its sockets (tp is the first), their readers
	// and the merge of what they read.
	fan *fanout
}

// Open starts capturing on the named interfaces, which must have the same
// link type. It needs CAP_NET_RAW.
func Open(names []string, o Options) (*Source, error) {
	o = o.withDefaults()
	if len(names) == 0 {
		return nil, errors.New("live capture: no interface")
	}
	s := &Source{name: strings.Join(names, ","), ifaces: make(map[int]int, len(names)), buf: make([]byte, o.SnapLen)}
	for i, n := range names {
		ifc, err := net.InterfaceByName(n)
		if err != nil {
			return nil, fmt.Errorf("live capture: interface %s: no such network interface", n)
		}
		link, err := linkType(n)
		if err != nil {
			return nil, err
		}
		if i > 0 && link != s.link {
			return nil, fmt.Errorf("live capture: interface %s: link type %d, but %s has %d", n, link, names[0], s.link)
		}
		if _, dup := s.ifaces[ifc.Index]; dup {
			return nil, fmt.Errorf("live capture: interface %s named twice", n)
		}
		s.link, s.ifaces[ifc.Index] = link, i
	}
	prog, err := program(s.ifaces, s.link, o.Filter, o.SnapLen)
	if err != nil {
		return nil, err
	}
	s.names = names
	if s.rxBase, err = ifaceDrops(names); err != nil {
		return nil, fmt.Errorf("live capture on %s: %w", s.name, err)
	}
	if o.Fanout > 1 {
		if s.fan, err = openFanout(s, o, prog); err != nil {
			return nil, err
		}
		s.tp = s.fan.tps[0]
		return s, nil
	}
	if s.tp, err = s.socket(o, o.RingBytes, o.Poll, prog); err != nil {
		return nil, err
	}
	return s, nil
}

// socket opens an AF_PACKET socket with a ring of ringBytes (whole
// blocks) and attaches the kernel filter prog.
func (s *Source) socket(o Options, ringBytes int, poll time.Duration, prog []bpf.RawInstruction) (*afpacket.TPacket, error) {
	blocks := max(ringBytes/blockBytes, 1)
	tp, err := afpacket.NewTPacket(afpacket.TPacketVersion3, afpacket.OptBlockSize(blockBytes),
		afpacket.OptNumBlocks(blocks), afpacket.OptFrameSize(frameSize(o.SnapLen)),
		afpacket.OptBlockTimeout(blockTimeout), afpacket.OptPollTimeout(poll), afpacket.OptAddVLANHeader(true))
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("live capture on %s: %w (needs CAP_NET_RAW: run as root or give the program the capability)", s.name, err)
		}
		return nil, fmt.Errorf("live capture on %s: %w", s.name, err)
	}
	if err := tp.SetBPF(prog); err != nil {
		tp.Close()
		return nil, fmt.Errorf("live capture on %s: attach filter: %w", s.name, err)
	}
	return tp, nil
}

// frameSize is the ring's frame size for a snap length: the frame and the
// kernel's headers, in 16-byte steps, at least the page size afpacket
// requires.
func frameSize(snap int) int {
	return max((snap+128+15)&^15, os.Getpagesize())
}

// linkType maps an interface's hardware (ARPHRD) type, as SIOCGIFHWADDR
// gives it in this network namespace, to the link type of its frames.
func linkType(name string) (capture.LinkType, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("live capture: interface %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		err = unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr)
	}
	if err != nil {
		return 0, fmt.Errorf("live capture: interface %s: hardware type: %w", name, err)
	}
	switch t := ifr.Uint16(); t {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return capture.LinkEthernet, nil
	case unix.ARPHRD_NONE, unix.ARPHRD_IPGRE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6, unix.ARPHRD_SIT:
		return capture.LinkRaw, nil
	default:
		return 0, fmt.Errorf("live capture: interface %s: hardware type %d, not Ethernet or raw IP", name, t)
	}
}

// program is the kernel filter: frames of the interfaces that the filter
// expression (if any) matches, cut to snap bytes.
func program(ifaces map[int]int, link capture.LinkType, filter string, snap int) ([]bpf.RawInstruction, error) {
	keep := []bpf.Instruction{bpf.RetConstant{Val: uint32(snap)}}
	if filter != "" {
		var err error
		if keep, err = compileFilter(filter, link, uint32(snap)); err != nil {
			return nil, fmt.Errorf("live capture: %w", err)
		}
	}
	idx := make([]int, 0, len(ifaces))
	for i := range ifaces {
		idx = append(idx, i)
	}
	prog := []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtInterfaceIndex}}
	for k, i := range idx {
		// On a match, skip the other comparisons and the reject.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(i), SkipTrue: uint8(len(idx) - k)})
	}
	prog = append(prog, bpf.RetConstant{Val: 0})
	raw, err := bpf.Assemble(append(prog, keep...))
	if err != nil {
		return nil, fmt.Errorf("live capture: filter: %w", err)
	}
	return raw, nil
}

// Next fills p with the next frame. When none arrives within the poll
// interval it returns capture.ErrIdle with p.TsNs the time it gave up.
func (s *Source) Next(p *capture.Packet) error {
	if s.err != nil {
		return s.err
	}
	if s.fan != nil {
		s.err = s.fan.merge.next(p, s.buf, s.link)
		if errors.Is(s.err, capture.ErrIdle) {
			s.err = nil
			return capture.ErrIdle
		}
		return s.err
	}
	for {
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			p.Data, p.TsNs = p.Data[:0], time.Now().UnixNano()
			return capture.ErrIdle
		case err != nil:
			s.err = fmt.Errorf("live capture on %s: %w", s.name, err)
			return s.err
		}
		place, ok := s.ifaces[ci.InterfaceIndex]
		if !ok {
			s.stats.Foreign++ // read before the filter was attached
			continue
		}
		s.stats.Packets++
		s.stats.Bytes += uint64(ci.Length)
		p.Data = append(s.buf[:0], data...)
		p.TsNs = ci.Timestamp.UnixNano()
		p.OrigLen = ci.Length
		p.Link = s.link
		p.Iface = place
		return nil
	}
}

// Name is the interfaces, comma-separated.
func (s *Source) Name() string { return s.name }

// Stats returns the counters; the kernel's drops are read now.
func (s *Source) Stats() (Stats, error) {
	st := s.stats
	if s.fan != nil {
		st.Packets, st.Bytes, st.Foreign = s.fan.packets.Load(), s.fan.bytes.Load(), s.fan.foreign.Load()
	}
	var err error
	if st.Drops, err = s.Drops(); err != nil {
		return st, err
	}
	if st.IfaceDrops, err = s.IfaceDrops(); err != nil {
		return st, err
	}
	return st, nil
}

// ifaceDrops reads the interfaces' receive drop counters (in this
// network namespace: /proc/net is the process's).
func ifaceDrops(names []string) (uint64, error) {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return 0, err
	}
	return rxDrops(string(b), names)
}

// IfaceDrops returns what the interfaces dropped on receive since the
// capture opened. It may be called from any goroutine.
func (s *Source) IfaceDrops() (uint64, error) {
	d, err := ifaceDrops(s.names)
	if err != nil {
		return 0, fmt.Errorf("live capture on %s: %w", s.name, err)
	}
	return d - min(d, s.rxBase), nil
}

// Drops returns the frames the kernel dropped so far. Unlike Next and
// Stats it may be called from any goroutine (a metrics endpoint's).
func (s *Source) Drops() (uint64, error) {
	tps := []*afpacket.TPacket{s.tp}
	if s.fan != nil {
		tps = s.fan.tps
	}
	var sum uint64
	for _, tp := range tps {
		_, v3, err := tp.SocketStats()
		if err != nil {
			return 0, fmt.Errorf("live capture on %s: statistics: %w", s.name, err)
		}
		sum += uint64(v3.Drops())
	}
	return sum, nil
}

// Close stops the capture.
func (s *Source) Close() error {
	if s.fan != nil {
		s.fan.close()
		return nil
	}
	s.tp.Close()
	return nil
}
