package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// frame is a frame waiting for its delivery time.
type frame struct {
	at   time.Time
	data []byte
}

// hop is one direction of the forwarder: frames read from in are dropped
// with probability loss, else written to out after delay (a fixed delay
// keeps their order).
type hop struct {
	name             string
	in, out          int
	loss             float64
	delay            time.Duration
	rng              *rand.Rand
	seen, drop, sent atomic.Int64
}

func openPacket(ifname string) (int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, fmt.Errorf("interface %s: %w", ifname, err)
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("af_packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return -1, errors.Join(fmt.Errorf("bind %s: %w", ifname, err), unix.Close(fd))
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// isTCP reports whether an Ethernet frame carries IPv4 or IPv6 TCP (only
// those are dropped: ARP and neighbour discovery always pass).
func isTCP(b []byte) bool {
	if len(b) < 14 {
		return false
	}
	switch uint16(b[12])<<8 | uint16(b[13]) {
	case 0x0800:
		return len(b) > 23 && b[23] == unix.IPPROTO_TCP
	case 0x86dd:
		return len(b) > 20 && b[20] == unix.IPPROTO_TCP
	}
	return false
}

func (h *hop) run(ctx context.Context) error {
	q := make(chan frame, 1<<16)
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		for f := range q {
			time.Sleep(time.Until(f.at))
			if _, err := unix.Write(h.out, f.data); err != nil && werr == nil {
				werr = fmt.Errorf("%s: write: %w", h.name, err)
			}
			h.sent.Add(1)
		}
	}()
	buf := make([]byte, 1<<16)
	var rerr error
	for ctx.Err() == nil {
		n, from, err := unix.Recvfrom(h.in, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			rerr = fmt.Errorf("%s: read: %w", h.name, err)
			break
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // our own writes on this interface
		}
		at := time.Now().Add(h.delay)
		h.seen.Add(1)
		if isTCP(buf[:n]) && h.rng.Float64() < h.loss {
			h.drop.Add(1)
			continue
		}
		q <- frame{at: at, data: append([]byte(nil), buf[:n]...)}
	}
	close(q)
	wg.Wait()
	return errors.Join(rerr, werr)
}

// forward bridges interfaces a and b until ctx ends, dropping and delaying
// frames both ways, and prints its counters to w.
func forward(ctx context.Context, a, b string, loss float64, delay time.Duration, seed uint64, w io.Writer) error {
	fa, err := openPacket(a)
	if err != nil {
		return err
	}
	fb, err := openPacket(b)
	if err != nil {
		return errors.Join(err, unix.Close(fa))
	}
	// A read timeout lets the loops notice the end of ctx.
	tv := unix.Timeval{Usec: 200000}
	for _, fd := range []int{fa, fb} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return errors.Join(fmt.Errorf("set read timeout: %w", err), unix.Close(fa), unix.Close(fb))
		}
	}
	hops := []*hop{
		{name: a + "->" + b, in: fa, out: fb, loss: loss, delay: delay, rng: rand.New(rand.NewPCG(seed, 1))},
		{name: b + "->" + a, in: fb, out: fa, loss: loss, delay: delay, rng: rand.New(rand.NewPCG(seed, 2))},
	}
	errs := make([]error, len(hops))
	var wg sync.WaitGroup
	for i, h := range hops {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = h.run(ctx) }()
	}
	wg.Wait()
	for _, h := range hops {
		fmt.Fprintf(w, "forward %s: %d frames, %d dropped, %d forwarded\n", h.name, h.seen.Load(), h.drop.Load(), h.sent.Load())
	}
	return errors.Join(errors.Join(errs...), unix.Close(fa), unix.Close(fb))
}
