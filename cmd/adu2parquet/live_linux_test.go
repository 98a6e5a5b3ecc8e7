package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/netns"
	"github.com/abt-dev/abt/internal/synthcap"
	"github.com/abt-dev/abt/schema"
)

// liveTraffic is the frames of 40 connections, each a request, a response
// and both FINs (so that none is open when the capture stops), header-only.
func liveTraffic(t *testing.T) [][]byte { return liveTrafficFrom(t, 40000) }

// liveTrafficFrom is liveTraffic with client ports from port on.
func liveTrafficFrom(t *testing.T, port uint16) [][]byte {
	t.Helper()
	srv := netip.MustParseAddrPort("192.0.2.1:80")
	var segs []synthcap.Segment
	for i := range 40 {
		c := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), port+uint16(i))
		segs = append(segs, synthcap.Exchange(int64(i)*int64(time.Second), c, srv, uint16(100+i), uint16(1000+10*i), true)...)
	}
	pcap, err := synthcap.Capture(segs)
	require.NoError(t, err)
	src, err := capture.OpenReader("traffic", bytes.NewReader(pcap))
	require.NoError(t, err)
	var out [][]byte
	var p capture.Packet
	for src.Next(&p) == nil {
		out = append(out, bytes.Clone(p.Data))
	}
	return out
}

// sendTraffic writes liveTraffic's frames into a0 and returns them.
func sendTraffic(t *testing.T) [][]byte { return sendFrames(t, liveTraffic(t)) }

// sendFrames writes frames into a0 and returns them.
func sendFrames(t *testing.T, frames [][]byte) [][]byte {
	t.Helper()
	tx, err := afpacket.NewTPacket(afpacket.OptInterface("a0"))
	require.NoError(t, err)
	defer tx.Close()
	for _, fr := range frames {
		require.NoError(t, tx.WritePacketData(fr))
	}
	return frames
}

// TestLive archives traffic sent over a veth pair with adu2parquet live
// while another capture, beside it, writes the same frames to a pcap file
// (as tcpdump would); the pcap archived offline gives the same rows. A
// cancel (what SIGTERM does) ends the live run as complete, with its input
// recorded as live, and the hour's files published. It runs with one
// socket, and with a fanout group of three (--fanout 3), whose sockets'
// frames are merged back in time order.
func TestLive(t *testing.T) {
	if !netns.Run(t, "TestLive", netns.Veths) {
		return
	}
	// A socket that asks for receive times makes the kernel stamp every
	// frame as it arrives (net_enable_timestamp), once for all sockets; on
	// a veth pair each packet socket would otherwise read the clock itself,
	// a microsecond apart.
	ts, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	defer unix.Close(ts)
	require.NoError(t, unix.SetsockoptInt(ts, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1))
	for _, fanout := range []string{"1", "3"} {
		t.Run("fanout="+fanout, func(t *testing.T) { liveAsOffline(t, fanout) })
	}
}

// liveAsOffline is TestLive with --fanout fanout.
func liveAsOffline(t *testing.T, fanout string) {
	dir := t.TempDir()
	liveOut, offOut := filepath.Join(dir, "live"), filepath.Join(dir, "offline")
	beside := filepath.Join(dir, "beside.pcap")

	// The capture beside: every frame a1 receives, into a pcap.
	bs, err := live.Open([]string{"a1"}, live.Options{Poll: 50 * time.Millisecond})
	require.NoError(t, err)
	f, err := os.Create(beside)
	require.NoError(t, err)
	pw := pcapgo.NewWriterNanos(f)
	require.NoError(t, pw.WriteFileHeader(live.DefaultSnapLen, layers.LinkTypeEthernet))
	stopBeside := make(chan struct{})
	besideDone := make(chan error, 1)
	go func() {
		var p capture.Packet
		for {
			err := bs.Next(&p)
			switch {
			case errors.Is(err, capture.ErrIdle):
				select {
				case <-stopBeside:
					besideDone <- nil
					return
				default:
				}
				continue
			case err != nil:
				besideDone <- err
				return
			}
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.TsNs), CaptureLength: len(p.Data), Length: p.OrigLen}
			if err := pw.WritePacket(ci, p.Data); err != nil {
				besideDone <- err
				return
			}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"live", "-i", "a1", "--out", liveOut, "--sensor", testSensor, "--rollup=false", "--workers", "2",
			"--fanout", fanout},
			nil, &stdout, &stderr)
	}()
	// The run is capturing once its journal is written and a moment has
	// passed for the socket.
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(liveOut, "_abt", "runs", "*"))
		return len(m) > 0
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)

	frames := sendTraffic(t)
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case c := <-code:
		require.Equal(t, exitOK, c, "stderr: %s", stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatal("live did not stop within 5 s of the cancel")
	}
	close(stopBeside)
	require.NoError(t, <-besideDone)
	require.NoError(t, f.Close())
	st, err := bs.Stats()
	require.NoError(t, err)
	require.Equal(t, uint64(len(frames)), st.Packets, "the capture beside saw every frame")

	mustArchive(t, offOut, "--rollup=false", beside)
	lt, ot := readTables(t, liveOut), readTables(t, offOut)
	for _, tb := range []*tables{&lt, &ot} {
		for i := range tb.adus {
			tb.adus[i].RunID = ""
		}
		for i := range tb.conns {
			tb.conns[i].RunID = ""
		}
	}
	require.Len(t, lt.conns, 40)
	require.Len(t, lt.adus, 80)
	require.Equal(t, ot.adus, lt.adus)
	require.Equal(t, ot.conns, lt.conns)
	require.Len(t, lt.runs, 1)
	run := lt.runs[0]
	require.Equal(t, "complete", run.Status)
	require.NotNil(t, run.Drops, "a live run records its drops")
	require.Zero(t, *run.Drops)
	var wire int64
	for _, fr := range frames {
		wire += int64(len(fr))
	}
	require.Equal(t, []schema.Input{{Name: "live:a1", Format: "live", Packets: int64(len(frames)), Bytes: wire}}, run.Inputs)
	t.Logf("%d frames, %d ADUs, %d connections: the same rows live and offline", len(frames), len(lt.adus), len(lt.conns))
}

// TestLiveBadInput: an interface that does not exist is one line and exit
// 1, before anything is written to the archive; live without an interface
// is a usage error.
func TestLiveBadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "archive")
	code, stdout, stderr := runCmd(t, nil, "live", "-i", "nosuch0", "--out", out)
	require.Equal(t, exitFailure, code)
	require.Empty(t, stdout)
	require.Equal(t, "adu2parquet: live capture: interface nosuch0: no such network interface\n", stderr)
	_, err := os.Stat(out)
	require.True(t, os.IsNotExist(err), "no archive made")

	code, _, stderr = runCmd(t, nil, "live", "--out", out)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "live needs at least one interface (-i)")

	// A filter's syntax error names its position, before the archive.
	code, stdout, stderr = runCmd(t, nil, "live", "-i", "lo", "--out", out, "--filter", "tcp port")
	require.Equal(t, exitFailure, code)
	require.Empty(t, stdout)
	require.Equal(t, "adu2parquet: live capture: filter: expected a value after \"port\" at position 9\n", stderr)
	_, err = os.Stat(out)
	require.True(t, os.IsNotExist(err), "no archive made")

	// With --log-format json the error is one record, and only that.
	code, _, stderr = runCmd(t, nil, "live", "-i", "nosuch0", "--out", out, "--log-format", "json")
	require.Equal(t, exitFailure, code)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(stderr), &rec), stderr)
	require.Equal(t, "ERROR", rec["level"])
	require.Equal(t, "live capture: interface nosuch0: no such network interface", rec["error"])

	code, _, stderr = runCmd(t, nil, "live", "-i", "a1", "--log-format", "xml")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `--log-format "xml": must be plain, text or json`)
}

// testBinEnv carries the program built outside the network namespace to
// the copy of the test inside it.
const testBinEnv = "ABT_TEST_ADU2PARQUET"

// TestLiveKilled kills a live run with SIGKILL after traffic, starts
// another in the same archive and stops it with SIGTERM after more: the
// archive verifies; the killed run is in the runs table as crashed (it
// published nothing: its hour was still open) and the second as complete;
// the rows are the second run's traffic, once.
func TestLiveKilled(t *testing.T) {
	if !netns.Inside() {
		t.Setenv(testBinEnv, adu2parquetBinary(t))
	}
	if !netns.Run(t, "TestLiveKilled", netns.Veths) {
		return
	}
	bin := os.Getenv(testBinEnv)
	out := filepath.Join(t.TempDir(), "archive")
	journals := func() int {
		m, _ := filepath.Glob(filepath.Join(out, "_abt", "runs", "*"))
		return len(m)
	}
	sendDuring := func(sig os.Signal) *bytes.Buffer {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "live", "-i", "a1", "--out", out, "--sensor", testSensor, "--rollup=false", "-q")
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool { return journals() == 1 }, 10*time.Second, 10*time.Millisecond)
		time.Sleep(300 * time.Millisecond)
		sendTraffic(t)
		time.Sleep(300 * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(sig))
		err := cmd.Wait()
		if sig == syscall.SIGKILL {
			require.Error(t, err)
		} else {
			require.NoError(t, err, "stderr: %s", stderr.String())
		}
		return &stderr
	}
	sendDuring(syscall.SIGKILL)
	require.Equal(t, 1, journals(), "the killed run's journal")
	sendDuring(syscall.SIGTERM)
	require.Zero(t, journals())

	code, stdout, stderr := runCmd(t, nil, "verify", "--out", out)
	require.Equal(t, exitOK, code, "verify: %s%s", stdout, stderr)
	tb := readTables(t, out)
	require.Len(t, tb.runs, 2)
	status := map[string]schema.Run{}
	for _, r := range tb.runs {
		status[r.Status] = r
	}
	crashed, complete := status["crashed"], status["complete"]
	require.Zero(t, crashed.ADUs, "the killed run's hour was open: nothing published")
	require.Nil(t, crashed.FirstPacket)
	require.Equal(t, []schema.Input{{Name: "live:a1", Format: "live"}}, crashed.Inputs)
	require.Equal(t, int64(80), complete.ADUs)
	require.Len(t, tb.adus, 80, "the second run's rows, once")
	require.Len(t, tb.conns, 40)
	for _, r := range tb.adus {
		require.Equal(t, complete.RunID, r.RunID)
	}
}

// TestLiveMetrics scrapes the Prometheus endpoint of a live run after
// traffic: the packets read, no drops, the ADUs written, the connections
// held (closed keys linger), no file published yet (the hour is open), and
// the archive's free disk.
func TestLiveMetrics(t *testing.T) {
	if !netns.Run(t, "TestLiveMetrics", netns.Veths) {
		return
	}
	out := filepath.Join(t.TempDir(), "archive")
	stderr, stop := startLive(t, out, "--metrics", "127.0.0.1:0", "--log-format", "json")
	addrRE := regexp.MustCompile(`"url":"(http://[^"]+/metrics)"`)
	var url string
	require.Eventually(t, func() bool {
		m := addrRE.FindStringSubmatch(stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "the endpoint's address on standard error")
	time.Sleep(300 * time.Millisecond)
	frames := sendTraffic(t)
	want := map[string]float64{"abt_packets_total": float64(len(frames)), "abt_drops_total": 0, "abt_interface_drops_total": 0,
		"abt_adus_total": 80, "abt_connections": 40, "abt_files_published_total": 0}
	var got map[string]float64
	require.Eventually(t, func() bool {
		got = scrape(t, url)
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}, 5*time.Second, 100*time.Millisecond, "metrics %v", want)
	require.Positive(t, got["abt_disk_free_bytes"])
	require.GreaterOrEqual(t, got["abt_seconds_since_publish"], 0.0)
	require.Equal(t, exitOK, stop(), stderr.String())

	// --log-format json: every line a record; the last says how the run ended.
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		last = nil
		require.NoError(t, json.Unmarshal([]byte(line), &last), "a JSON record: %s", line)
		require.Contains(t, last, "level")
	}
	require.Equal(t, "run ended", last["msg"])
	require.Equal(t, float64(len(frames)), last["packets"])
	require.Equal(t, float64(80), last["adus"])
	require.Equal(t, float64(0), last["drops"])
	require.Equal(t, true, last["stopped_by_signal"])
}

// scrape reads the abt_ metrics of a Prometheus text page.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(name, "abt_") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		require.NoError(t, err, line)
		out[name] = v
	}
	return out
}

// TestLiveDiskFloor runs live on a 32 MiB file system. Filled below
// --disk-floor before any traffic, the run says so and opens no hour:
// the first traffic's rows are shed and counted. Once the filler is gone
// it says so and the second traffic is archived.
func TestLiveDiskFloor(t *testing.T) {
	if !netns.Run(t, "TestLiveDiskFloor", netns.Veths) {
		return
	}
	fsDir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", fsDir, "tmpfs", 0, "size=32m"))
	t.Cleanup(func() { _ = unix.Unmount(fsDir, 0) })
	filler := filepath.Join(fsDir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 26<<20), 0o644))
	out := filepath.Join(fsDir, "archive")

	stderr, stop := startLive(t, out, "--disk-floor", "8MiB", "--disk-warn", "16MiB")
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "below --disk-floor 8MiB") },
		10*time.Second, 10*time.Millisecond, "the floor said")
	require.Contains(t, stderr.String(), "below --disk-warn 16MiB")
	sendFrames(t, liveTrafficFrom(t, 40000))
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "free again: new hours are opened") },
		10*time.Second, 10*time.Millisecond, "the resume said")
	sendFrames(t, liveTrafficFrom(t, 41000))
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, exitOK, stop(), stderr.String())
	require.Contains(t, stderr.String(), "shed while the archive's disk was below --disk-floor: 80 ADUs, 40 connections")

	tb := readTables(t, out)
	require.Len(t, tb.adus, 80, "the second traffic only")
	for _, r := range tb.conns {
		require.GreaterOrEqual(t, r.ClientPort, int32(41000))
	}
	require.Len(t, tb.runs, 1)
	require.Contains(t, tb.runs[0].SetAside, schema.Counter{Name: "adus_shed_disk_floor", Value: 80})
	require.Contains(t, tb.runs[0].SetAside, schema.Counter{Name: "conns_shed_disk_floor", Value: 40})
}

// TestLiveBurstDrops stops the program (SIGSTOP) while a burst of 30,080
// frames meets a one-block ring (--ring 1MiB): the kernel drops what the
// ring cannot hold. Resumed, the metrics count the drops; after SIGTERM the
// runs row has them: read and dropped add up to what was sent, in the
// run's drops, its set_aside and its hours.
func TestLiveBurstDrops(t *testing.T) {
	if !netns.Inside() {
		t.Setenv(testBinEnv, adu2parquetBinary(t))
	}
	if !netns.Run(t, "TestLiveBurstDrops", netns.Veths) {
		return
	}
	var burst [][]byte
	for i := range 94 {
		burst = append(burst, liveTrafficFrom(t, uint16(20000+40*i))...)
	}
	out := filepath.Join(t.TempDir(), "archive")
	stderr := &lockedBuffer{}
	cmd := exec.Command(os.Getenv(testBinEnv), "live", "-i", "a1", "--out", out, "--sensor", testSensor, "--rollup=false",
		"--ring", "1MiB", "--metrics", "127.0.0.1:0", "--log-format", "json")
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill() //nolint:errcheck // ended below unless the test failed
	addrRE := regexp.MustCompile(`"url":"(http://[^"]+/metrics)"`)
	var url string
	require.Eventually(t, func() bool {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		return url != ""
	}, 10*time.Second, 10*time.Millisecond, "the endpoint's address: %s", stderr)
	time.Sleep(300 * time.Millisecond)

	require.NoError(t, cmd.Process.Signal(syscall.SIGSTOP))
	sendFrames(t, burst)
	require.NoError(t, cmd.Process.Signal(syscall.SIGCONT))
	sent := float64(len(burst))
	var got map[string]float64
	require.Eventually(t, func() bool {
		got = scrape(t, url)
		return got["abt_packets_total"]+got["abt_drops_total"] == sent
	}, 10*time.Second, 50*time.Millisecond, "read and dropped, in the metrics, add up to %v sent", sent)
	require.Positive(t, got["abt_drops_total"], "a one-block ring cannot hold the burst")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), stderr.String())
	tb := readTables(t, out)
	require.Len(t, tb.runs, 1)
	r := tb.runs[0]
	require.NotNil(t, r.Drops)
	require.Equal(t, int64(got["abt_drops_total"]), *r.Drops, "the run's drops are the metrics'")
	require.Equal(t, int64(sent), r.Packets+*r.Drops)
	var setAside int64
	for _, c := range r.SetAside {
		if c.Name == "packets_dropped_kernel" {
			setAside = c.Value
		}
	}
	require.Equal(t, *r.Drops, setAside)
	var hourPackets, hourDrops int64
	for _, h := range r.Hours {
		hourPackets, hourDrops = hourPackets+h.Packets, hourDrops+h.Drops
	}
	require.Equal(t, r.Packets, hourPackets, "the hours' packets add up to the run's")
	require.Equal(t, *r.Drops, hourDrops, "the hours' drops add up to the run's")
	t.Logf("%d frames sent: %d read, %d dropped by the kernel, over %d hour(s)", len(burst), r.Packets, *r.Drops, len(r.Hours))
}
