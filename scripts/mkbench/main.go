// Command mkbench builds the large classic pcap that scripts/bench.sh feeds to
// adu2parquet, from the small captures bundled in testdata/pcaps:
//
//	go run ./scripts/mkbench -o bench/big.pcap -packets 4000000 IN...
//
// It reads every input with package capture (so pcap, pcapng, ERF, gzip and
// zstd all work), keeps the Ethernet frames, and writes copies of the whole
// input set one after another until exactly -packets frames are written.
// Each input of each copy is shifted in time so that it starts 1 s after the
// previous one ended; the output's timestamps therefore never go backwards
// between inputs (within one input they keep their recorded order).
//
// Pauses between consecutive frames of an input longer than -max-gap (1 h)
// are shortened to it. Some bundled captures are several captures glued
// together (zeek_ssh.pcap spans three years), and a few dozen copies of those
// would run past 2106, where the pcap format's 32-bit seconds end. The
// default of 1 h is longer than every timeout of package ingest (idle 5 min,
// handshake 75 s) and no more than its clock-jump threshold, so adu2parquet
// ends the same connections at such a pause either way.
//
// Copy k rewrites the IP addresses of its frames (see rewriteAddrs), so a copy
// holds new connections rather than replays of the 4-tuples before it. Copy 0
// keeps the original addresses; the key is k mod 65536, so addresses would
// repeat only after 65536 copies. The IPv4 header checksum is kept right; TCP
// and UDP checksums are not updated and become wrong, which adu2parquet does
// not mind (package decode does not verify checksums).
//
// The output is a classic little-endian pcap with microsecond timestamps and
// link type Ethernet, written with gopacket's pcapgo.Writer. It is a pure
// function of the arguments and the input bytes: the same command gives a
// byte-identical file. It is written to OUT.tmp and renamed into place, so an
// interrupted run never leaves a short file under the final name.
//
// Limitations: frames of other link types (and inputs with none) are skipped
// with a note on stderr. A read error ends that input with a warning; the
// frames read before it are kept. Output timestamps must fit the pcap format's
// unsigned 32-bit seconds (until 2106).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// copyGapNs is the pause between the last frame of one input and the first
// frame of the next one.
const copyGapNs = int64(time.Second)

// minSnapLen is the snap length written in the file header unless a frame is
// longer (then that frame's length is used). 262144 is what tcpdump uses.
const minSnapLen = 262144

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is the whole program; it returns the exit status (0 ok, 1 failure, 2
// usage error).
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output pcap `path` (required)")
	packets := fs.Int64("packets", 4_000_000, "number of `frames` to write")
	maxGap := fs.Duration("max-gap", time.Hour, "shorten pauses between consecutive frames of an input to at most this `duration` (0: keep all)")
	stagger := fs.Duration("stagger", 0, "start each input of each copy this `duration` after the previous one, overlapping in time, instead of after it ends (a denser capture)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkbench -o OUT [-packets N] INPUT...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 || *packets <= 0 || *maxGap < 0 || *stagger < 0 {
		fs.Usage()
		return 2
	}
	if err := build(*out, *packets, int64(*maxGap), int64(*stagger), fs.Args(), stderr); err != nil {
		fmt.Fprintf(stderr, "mkbench: %v\n", err)
		return 1
	}
	return 0
}

// build loads the inputs, writes the output and reports what it wrote.
func build(out string, packets, maxGapNs, staggerNs int64, inputs []string, stderr io.Writer) error {
	set, err := loadAll(inputs, maxGapNs, stderr)
	if err != nil {
		return err
	}
	if set.frames() == 0 {
		return errors.New("no Ethernet frames in the inputs")
	}
	set.staggerNs = staggerNs
	st, err := writeFile(out, set, packets)
	if err != nil {
		return err
	}
	st.report(stderr, out, set)
	return nil
}

// writeStats summarises an output file.
type writeStats struct {
	Packets    int64 // frames written
	Bytes      int64 // file size
	Copies     int64 // copies begun, the last one possibly partial
	LastCopy   int64 // frames written of the last copy
	FirstTsNs  int64 // timestamp of the first frame, ns since the epoch
	LastTsNs   int64 // timestamp of the last frame, ns since the epoch
	maxTsNs    int64 // latest timestamp written so far
	nextBaseNs int64 // where the next input starts; 0 before the first
}

func (st *writeStats) report(w io.Writer, out string, set *inputSet) {
	fmt.Fprintf(w, "mkbench: wrote %s: %d packets, %d bytes, %d copies of %d packets from %d input(s) (last copy %d packets)\n",
		out, st.Packets, st.Bytes, st.Copies, set.frames(), len(set.inputs), st.LastCopy)
	first, last := time.Unix(0, st.FirstTsNs).UTC(), time.Unix(0, st.LastTsNs).UTC()
	fmt.Fprintf(w, "mkbench: span %s .. %s (%s)\n",
		first.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano), last.Sub(first))
}

// writeFile writes packets frames to path (via path.tmp and a rename).
func writeFile(path string, set *inputSet, packets int64) (*writeStats, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	st, err := writeFrames(bw, set, packets)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		err = fmt.Errorf("write %s: %w", tmp, err)
	}
	// The file is a rebuildable benchmark input, so no fsync: the rename only
	// keeps an interrupted run from leaving a short file under the final name.
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, errors.Join(err, os.Remove(tmp))
	}
	if fi, err := os.Stat(tmp); err == nil {
		st.Bytes = fi.Size()
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("publish output: %w", err)
	}
	return st, nil
}

// writeFrames writes the file header and then copies of set until packets
// frames are written.
func writeFrames(w io.Writer, set *inputSet, packets int64) (*writeStats, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(uint32(max(minSnapLen, set.maxCapLen)), layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("write file header: %w", err)
	}
	st := &writeStats{}
	scratch := make([]byte, set.maxCapLen)
	if set.staggerNs > 0 {
		return st, writeStaggered(pw, st, set, packets, scratch)
	}
	for st.Packets < packets {
		st.Copies++
		st.LastCopy = 0
		for i := range set.inputs {
			if err := writeInput(pw, st, &set.inputs[i], uint16(st.Copies-1), packets, scratch); err != nil {
				return nil, err
			}
		}
	}
	return st, nil
}

// writeInput writes one input of copy number key (mod 2^16), shifted to
// start copyGapNs after the latest frame written so far, stopping at packets
// frames in all.
func writeInput(pw *pcapgo.Writer, st *writeStats, in *input, key uint16, packets int64, scratch []byte) error {
	if len(in.frames) == 0 {
		return nil
	}
	shift := st.nextBaseNs - in.minTsNs
	if st.Packets == 0 {
		// The first input keeps its own times (moved up to the epoch if it
		// has earlier ones, which the pcap format cannot hold).
		shift = max(0, -in.minTsNs)
	}
	for i := range in.frames {
		if st.Packets == packets {
			break
		}
		fr := &in.frames[i]
		ts := fr.tsNs + shift
		if ts/int64(time.Second) > math.MaxUint32 {
			return fmt.Errorf("%s copy %d: timestamp %d ns past the pcap format's range", in.name, st.Copies, ts)
		}
		buf := scratch[:len(fr.data)]
		copy(buf, fr.data)
		rewriteAddrs(buf, key)
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(buf), Length: fr.origLen}
		if err := pw.WritePacket(ci, buf); err != nil {
			return fmt.Errorf("write packet: %w", err)
		}
		st.note(ts)
	}
	st.nextBaseNs = st.maxTsNs + copyGapNs
	return nil
}

// note counts a written frame with timestamp ts.
func (st *writeStats) note(ts int64) {
	if st.Packets == 0 {
		st.FirstTsNs, st.maxTsNs = ts, ts
	}
	st.Packets++
	st.LastCopy++
	st.LastTsNs = ts
	st.maxTsNs = max(st.maxTsNs, ts)
}

// writeStaggered writes copies that overlap in time: the k-th (copy, input)
// pair starts k*stagger after the first, and frames are written in time
// order, so the capture is as dense as a busy link rather than a sequence
// of quiet replays.
func writeStaggered(pw *pcapgo.Writer, st *writeStats, set *inputSet, packets int64, scratch []byte) error {
	type ref struct {
		ts          int64
		copy, input int32
		frame       int32
	}
	var refs []ref
	base := int64(0)
	for _, in := range set.inputs {
		if len(in.frames) > 0 && in.minTsNs < 0 {
			base = max(base, -in.minTsNs)
		}
	}
	start := set.inputs[0].minTsNs + base
	for k := int64(0); int64(len(refs)) < packets; k++ {
		c := int32(k / int64(len(set.inputs)))
		i := int32(k % int64(len(set.inputs)))
		in := &set.inputs[i]
		shift := start + k*set.staggerNs - in.minTsNs
		for f := range in.frames {
			refs = append(refs, ref{ts: in.frames[f].tsNs + shift, copy: c, input: i, frame: int32(f)})
		}
		if k > 1<<20 {
			return errors.New("inputs hold no frames")
		}
	}
	sort.SliceStable(refs, func(a, b int) bool { return refs[a].ts < refs[b].ts })
	refs = refs[:packets]
	st.Copies = int64(refs[len(refs)-1].copy) + 1
	for _, r := range refs {
		fr := &set.inputs[r.input].frames[r.frame]
		if r.ts/int64(time.Second) > math.MaxUint32 {
			return fmt.Errorf("timestamp %d ns past the pcap format's range", r.ts)
		}
		buf := scratch[:len(fr.data)]
		copy(buf, fr.data)
		rewriteAddrs(buf, uint16(r.copy*int32(len(set.inputs))+r.input))
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, r.ts), CaptureLength: len(buf), Length: fr.origLen}
		if err := pw.WritePacket(ci, buf); err != nil {
			return fmt.Errorf("write packet: %w", err)
		}
		st.note(r.ts)
	}
	st.LastCopy = 0
	for _, r := range refs {
		if int64(r.copy) == st.Copies-1 {
			st.LastCopy++
		}
	}
	return nil
}
