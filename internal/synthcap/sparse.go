// Package synthcap writes synthetic packet captures for tests and
// benchmarks: small, seeded, deterministic pcaps whose shape (how many
// connections, over what span of time) is the point, not their content.
//
// It does not model applications or loss; cmd/abtsynth does that over real
// TCP for validation.
package synthcap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Sparse describes a capture of short connections at scattered times.
type Sparse struct {
	// Conns is the number of connections.
	Conns int
	// From and To bound their start times, [From, To).
	From, To time.Time
	// Servers is the number of distinct server addresses (port 80), the
	// connections spread over them round-robin. Default 16.
	Servers int
	// RequestBytes is the size of each connection's one request. Default 100.
	RequestBytes int
	// Seed seeds the start times: the same Sparse writes the same bytes.
	Seed uint64
}

// PacketsPerConn is the number of packets Sparse writes per connection:
// SYN, SYN-ACK, the request (which also acknowledges the SYN-ACK), and the
// client's FIN.
const PacketsPerConn = 4

// Starts returns the connections' start times, sorted: uniformly random in
// [From, To) at microsecond resolution.
func (s Sparse) Starts() []time.Time {
	rng := rand.New(rand.NewPCG(s.Seed, 0x5ba75e))
	span := s.To.Sub(s.From).Microseconds()
	out := make([]time.Time, s.Conns)
	for i := range out {
		out[i] = s.From.Add(time.Duration(rng.Int64N(span)) * time.Microsecond)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// Write writes the capture to w as a classic little-endian pcap
// (microsecond timestamps, Ethernet), packets in time order. Connection i
// is client 10.1.x.y:(1024+i%60000) to server 10.0.0.(1+i%Servers):80; its
// packets are 1 ms apart.
func (s Sparse) Write(w io.Writer) error {
	if s.Conns < 0 || s.Conns > 1<<24 {
		return fmt.Errorf("synthcap: %d connections: want 0 to 2^24", s.Conns)
	}
	if !s.To.After(s.From) {
		return errors.New("synthcap: empty time range")
	}
	if s.Servers <= 0 {
		s.Servers = 16
	}
	if s.RequestBytes <= 0 {
		s.RequestBytes = 100
	}
	var pkts []packet
	for i, t0 := range s.Starts() {
		client := endpoint{net.IPv4(10, 1, byte(i>>8), byte(i)).To4(), uint16(1024 + i%60000)}
		server := endpoint{net.IPv4(10, 0, 0, byte(1+i%s.Servers)).To4(), 80}
		const cSeq, sSeq = 1000, 5000
		req := uint32(s.RequestBytes)
		ms := time.Millisecond
		pkts = append(pkts,
			packet{t0, client, server, cSeq, 0, "S", 0},
			packet{t0.Add(ms), server, client, sSeq, cSeq + 1, "SA", 0},
			packet{t0.Add(2 * ms), client, server, cSeq + 1, sSeq + 1, "A", s.RequestBytes},
			packet{t0.Add(3 * ms), client, server, cSeq + 1 + req, sSeq + 1, "FA", 0})
	}
	// Connections starting less than 3 ms apart interleave.
	slices.SortStableFunc(pkts, func(a, b packet) int { return a.at.Compare(b.at) })
	bw := bufio.NewWriterSize(w, 1<<16)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("write pcap header: %w", err)
	}
	pk := packer{w: pw, buf: gopacket.NewSerializeBuffer(), payload: make([]byte, s.RequestBytes)}
	for i := range pkts {
		if err := pk.write(&pkts[i]); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}

// packet is one TCP segment to write.
type packet struct {
	at       time.Time
	from, to endpoint
	seq, ack uint32
	flags    string // S, A, F
	payload  int    // bytes
}

type endpoint struct {
	ip   net.IP
	port uint16
}

// packer serialises packets into one reused buffer.
type packer struct {
	w       *pcapgo.Writer
	buf     gopacket.SerializeBuffer
	payload []byte
}

func (p *packer) write(k *packet) error {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: k.from.ip, DstIP: k.to.ip}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(k.from.port), DstPort: layers.TCPPort(k.to.port), Seq: k.seq, Ack: k.ack,
		Window: 65535, SYN: strings.Contains(k.flags, "S"), ACK: strings.Contains(k.flags, "A"),
		FIN: strings.Contains(k.flags, "F"), PSH: k.payload > 0}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return fmt.Errorf("build packet: %w", err)
	}
	if err := gopacket.SerializeLayers(p.buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(p.payload[:k.payload])); err != nil {
		return fmt.Errorf("build packet: %w", err)
	}
	b := p.buf.Bytes()
	if err := p.w.WritePacket(gopacket.CaptureInfo{Timestamp: k.at, CaptureLength: len(b), Length: len(b)}, b); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}
