package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/abt-dev/abt/internal/capture"
)

// frame is one Ethernet frame kept from an input.
type frame struct {
	data    []byte // captured bytes, our own copy; never modified
	origLen int    // length on the wire, bytes
	tsNs    int64  // capture time, ns since the epoch, after shortening pauses
}

// input is the Ethernet frames of one input file, in file order.
type input struct {
	name    string
	frames  []frame
	minTsNs int64 // earliest timestamp of frames (0 when there are none)

	maxGapNs   int64 // longest pause kept between consecutive frames; 0: no limit
	lastOrigNs int64 // recorded timestamp of the last frame added
	gaps       int64 // pauses shortened to maxGapNs
	cutNs      int64 // time removed by shortening them
}

// inputSet is everything one copy of the output holds.
type inputSet struct {
	inputs    []input
	maxCapLen int   // longest captured frame, bytes
	staggerNs int64 // with -stagger: start offset between (copy, input) pairs
}

func (s *inputSet) frames() int64 {
	var n int64
	for i := range s.inputs {
		n += int64(len(s.inputs[i].frames))
	}
	return n
}

// loadAll reads every input into memory. The bundled captures total a few
// tens of MB, so holding them is cheaper than re-reading (and re-inflating)
// them for each of dozens of copies.
func loadAll(paths []string, maxGapNs int64, stderr io.Writer) (*inputSet, error) {
	set := &inputSet{}
	for _, p := range paths {
		in, skipped, err := load(p, maxGapNs, stderr)
		if err != nil {
			return nil, err
		}
		if skipped > 0 {
			fmt.Fprintf(stderr, "mkbench: %s: skipped %d frames that are not Ethernet\n", p, skipped)
		}
		if len(in.frames) == 0 {
			fmt.Fprintf(stderr, "mkbench: %s: no Ethernet frames; not used\n", p)
		}
		if in.gaps > 0 {
			fmt.Fprintf(stderr, "mkbench: %s: shortened %d pauses to %s, %s in all\n",
				p, in.gaps, time.Duration(maxGapNs), time.Duration(in.cutNs))
		}
		for _, fr := range in.frames {
			set.maxCapLen = max(set.maxCapLen, len(fr.data))
		}
		set.inputs = append(set.inputs, in)
	}
	return set, nil
}

// load reads the Ethernet frames of one input. It returns how many frames
// of other link types it skipped. An error opening the input is fatal; an
// error part way through is reported on stderr and ends the input there.
func load(path string, maxGapNs int64, stderr io.Writer) (in input, skipped int64, err error) {
	src, err := capture.Open(path)
	if err != nil {
		return input{}, 0, err
	}
	in.name, in.maxGapNs = path, maxGapNs
	var p capture.Packet
	for {
		err = src.Next(&p)
		if err != nil {
			break
		}
		if p.Link != capture.LinkEthernet {
			skipped++
			continue
		}
		in.add(&p)
	}
	if !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "mkbench: warning: %v (keeping the %d frames before it)\n", err, len(in.frames))
	}
	// Close only releases what Open took on a file we read; its error
	// cannot affect the frames already copied.
	_ = src.Close()
	return in, skipped, nil
}

// add appends a copy of p (whose Data the Source reuses) to in, with a pause
// before it longer than in.maxGapNs shortened to that.
func (in *input) add(p *capture.Packet) {
	ts := p.TsNs
	if n := len(in.frames); n > 0 {
		gap := p.TsNs - in.lastOrigNs
		if in.maxGapNs > 0 && gap > in.maxGapNs {
			in.gaps++
			in.cutNs += gap - in.maxGapNs
			gap = in.maxGapNs
		}
		ts = in.frames[n-1].tsNs + gap
	}
	in.lastOrigNs = p.TsNs
	if len(in.frames) == 0 || ts < in.minTsNs {
		in.minTsNs = ts
	}
	in.frames = append(in.frames, frame{
		data:    append([]byte(nil), p.Data...),
		origLen: max(p.OrigLen, len(p.Data)),
		tsNs:    ts,
	})
}
