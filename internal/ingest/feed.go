package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
)

// FeedProgress is called by Feed every ProgressEvery packets.
type FeedProgress func(packets int64)

// ProgressEvery is how often (in packets) Feed checks for cancellation and
// reports progress.
const ProgressEvery = 1 << 14

// Feed reads every packet of src, decodes it with dec and processes the TCP
// segments. It returns nil when src is exhausted; the source's error (a
// *capture.FormatError for malformed input) when it stops early, after
// processing every packet before the fault; ctx.Err() when cancelled; or
// the sink's error. It does not call Finish: several sources can feed one
// engine, as consecutive files of one capture do.
func (e *Engine) Feed(ctx context.Context, src capture.Source, dec *decode.Decoder, progress FeedProgress) error {
	var (
		pkt capture.Packet
		seg decode.Segment
		n   int64
	)
	for {
		if err := src.Next(&pkt); err != nil {
			var fe *capture.FormatError
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case errors.As(err, &fe):
				return err // already names the file and offset
			}
			return fmt.Errorf("read %s: %w", src.Name(), err)
		}
		n++
		if n%ProgressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(n)
			}
		}
		if dec.Decode(&pkt, &seg) != decode.OK {
			continue
		}
		if err := e.Process(&seg); err != nil {
			return err
		}
	}
}
