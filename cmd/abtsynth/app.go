package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/abt-dev/abt/internal/validate"
)

// logger writes Side lines, one per connection, from many goroutines.
type logger struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (l *logger) log(s *validate.Side) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = l.enc.Encode(s)
	}
}

func now() int64 { return time.Now().UnixNano() }

var zeros = make([]byte, 1<<16)

// writeADU writes a's bytes in its planned calls and logs the time just
// before each call (the first segment leaves during the call; TCP_NODELAY,
// Go's default, keeps the kernel from holding small writes back).
func writeADU(c net.Conn, a *validate.PlanADU, la *validate.LogADU) error {
	time.Sleep(a.Pause)
	for i, n := range a.Writes {
		if i > 0 {
			time.Sleep(a.Delays[i-1])
		}
		t := now()
		for left := n; left > 0; {
			k := min(left, int64(len(zeros)))
			if _, err := c.Write(zeros[:k]); err != nil {
				return fmt.Errorf("write adu %d: %w", la.I, err)
			}
			left -= k
		}
		la.Writes = append(la.Writes, validate.LogWrite{N: n, Ns: t})
	}
	return nil
}

// readN reads exactly n bytes and returns when the last one was read.
func readN(c net.Conn, n int64) (int64, error) {
	if _, err := io.CopyN(io.Discard, c, n); err != nil {
		return 0, err
	}
	return now(), nil
}

// play runs one side (client true or false) of plan p on c and fills s.
func play(c net.Conn, p *validate.Plan, client bool, s *validate.Side) error {
	mine := "s2c"
	if client {
		mine = "c2s"
	}
	mode := p.Mode
	if mode == validate.ModePipe {
		// The server answers each request in turn, as in a sequential
		// dialog; the client writes its requests and reads the responses
		// on their own, as in a concurrent one.
		mode = validate.ModeSeq
		if client {
			mode = validate.ModeConc
		}
	}
	switch mode {
	case validate.ModeSeq:
		for i := range p.ADUs {
			a := &p.ADUs[i]
			la := validate.LogADU{I: i, Dir: a.Dir, Size: a.Size}
			var err error
			if a.Dir == mine {
				err = writeADU(c, a, &la)
			} else {
				la.ReadNs, err = readN(c, a.Size)
			}
			s.ADUs = append(s.ADUs, la)
			if err != nil {
				return fmt.Errorf("adu %d: %w", i, err)
			}
		}
	case validate.ModeConc:
		var (
			wg          sync.WaitGroup
			werr, rerr  error
			sent, recvd []validate.LogADU
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range p.ADUs {
				a := &p.ADUs[i]
				if a.Dir != mine {
					continue
				}
				la := validate.LogADU{I: i, Dir: a.Dir, Size: a.Size}
				werr = writeADU(c, a, &la)
				sent = append(sent, la)
				if werr != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range p.ADUs {
				a := &p.ADUs[i]
				if a.Dir == mine {
					continue
				}
				la := validate.LogADU{I: i, Dir: a.Dir, Size: a.Size}
				la.ReadNs, rerr = readN(c, a.Size)
				recvd = append(recvd, la)
				if rerr != nil {
					return
				}
			}
		}()
		wg.Wait()
		s.ADUs = append(sent, recvd...)
		if err := errors.Join(werr, rerr); err != nil {
			return err
		}
	}
	return nil
}

// waitSent waits until the kernel has no unacknowledged data for c (so that
// a RST discards nothing the log claims was sent), for up to 10 s.
func waitSent(c *net.TCPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw conn: %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var n int
		var ierr error
		if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil {
			return fmt.Errorf("control: %w", err)
		}
		if ierr != nil {
			return fmt.Errorf("siocoutq: %w", ierr)
		}
		if n == 0 {
			return nil
		}
	}
	return errors.New("send queue not drained in 10s")
}

// runClient makes connection i to server from local port port.
func runClient(ctx context.Context, prm *validate.Params, local, server string, port uint16, lg *logger) {
	p := validate.NewPlan(prm, port)
	s := validate.Side{Side: "client", Server: server, Mode: p.Mode, RST: p.RST}
	la, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(local, fmt.Sprint(port)))
	if err == nil {
		d := net.Dialer{LocalAddr: la, Timeout: 30 * time.Second}
		var c net.Conn
		c, err = d.DialContext(ctx, "tcp", server)
		if err == nil {
			s.Client = c.LocalAddr().String()
			tc := c.(*net.TCPConn)
			err = play(c, &p, true, &s)
			if err == nil && p.RST {
				err = waitSent(tc)
				err = errors.Join(err, tc.SetLinger(0))
			}
			err = errors.Join(err, c.Close())
		}
	}
	if s.Client == "" {
		s.Client = net.JoinHostPort(local, fmt.Sprint(port))
	}
	if err != nil {
		s.Err = err.Error()
	}
	lg.log(&s)
}

// serve plays the server side of one accepted connection.
func serve(prm *validate.Params, c net.Conn, lg *logger) {
	ra := c.RemoteAddr().(*net.TCPAddr)
	p := validate.NewPlan(prm, uint16(ra.Port))
	s := validate.Side{Side: "server", Client: ra.String(), Server: c.LocalAddr().String(), Mode: p.Mode, RST: p.RST}
	err := play(c, &p, false, &s)
	if err == nil {
		// Wait for the client's FIN or RST; a reset is the plan's end.
		_, err = io.Copy(io.Discard, c)
		if errors.Is(err, syscall.ECONNRESET) && p.RST {
			err = nil
		}
	}
	if errors.Is(err, syscall.ECONNRESET) && p.RST {
		err = nil
	}
	err = errors.Join(err, c.Close())
	if err != nil {
		s.Err = err.Error()
	}
	lg.log(&s)
}
