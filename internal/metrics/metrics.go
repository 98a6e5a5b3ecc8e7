// Package metrics is a running sensor's Prometheus endpoint: what an
// operator's monitoring scrapes to see that the collector keeps up and
// keeps publishing.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"
)

// Sensor holds the figures the endpoint reports. The run sets them (from
// its own goroutine); a scrape reads them.
type Sensor struct {
	Packets    atomic.Int64 // packets read
	Drops      atomic.Int64 // packets the kernel dropped (ring full)
	IfaceDrops atomic.Int64 // packets the interfaces dropped on receive
	Conns      atomic.Int64 // entries in the connection table
	ADUs       atomic.Int64 // ADU records written

	// Published reports the files published and their ADU rows so far;
	// it is called at each scrape, from the endpoint's goroutine.
	Published func() (files, adus int64)
	// Root is the archive's directory, whose file system's free space is
	// reported.
	Root string

	files      atomic.Int64 // files published at the last scrape
	lastChange atomic.Int64 // unix ns when the files published last changed (or the start)
}

// Server is a running endpoint.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan error
}

// Addr is the address the endpoint listens on (with the port chosen, when
// the one asked was 0).
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the endpoint.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// Serve starts the endpoint on addr (host:port): the sensor's figures
// under /metrics, with the Go runtime's and the process's.
func Serve(addr string, s *Sensor) (*Server, error) {
	s.lastChange.Store(time.Now().UnixNano())
	reg := prometheus.NewRegistry()
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "abt", Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "abt", Name: name, Help: help}, f)
	}
	load := func(v *atomic.Int64) func() float64 { return func() float64 { return float64(v.Load()) } }
	reg.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		counter("packets_total", "Packets read from the link.", load(&s.Packets)),
		counter("drops_total", "Packets the kernel dropped because the capture ring was full.", load(&s.Drops)),
		counter("interface_drops_total", "Packets the interfaces dropped on receive (their rx drop counters).", load(&s.IfaceDrops)),
		gauge("connections", "Entries in the connection table.", load(&s.Conns)),
		counter("adus_total", "ADU records written.", load(&s.ADUs)),
		counter("files_published_total", "Archive files published (adus and connections parts).", func() float64 {
			return float64(s.published())
		}),
		gauge("seconds_since_publish", "Seconds since the number of files published last grew (or the start).", func() float64 {
			s.published()
			return time.Since(time.Unix(0, s.lastChange.Load())).Seconds()
		}),
		gauge("disk_free_bytes", "Free bytes on the archive's file system (for an unprivileged user).", func() float64 {
			var st unix.Statfs_t
			if s.Root == "" || unix.Statfs(s.Root, &st) != nil {
				return -1
			}
			return float64(st.Bavail) * float64(st.Bsize)
		}),
	)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr(), done: make(chan error, 1)}
	go func() { srv.done <- srv.srv.Serve(ln) }()
	return srv, nil
}

// published reads the files published, noting when it grew.
func (s *Sensor) published() int64 {
	if s.Published == nil {
		return 0
	}
	files, _ := s.Published()
	if old := s.files.Swap(files); files != old {
		s.lastChange.Store(time.Now().UnixNano())
	}
	return files
}
