package anomaly

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestPower prints how often a changed day is flagged, by the size of the
// change and the day's sample, and how often an unchanged one is
// (docs/anomalies.md); ABT_POWER=1 runs it.
func TestPower(t *testing.T) {
	if os.Getenv("ABT_POWER") == "" {
		t.Skip("ABT_POWER=1 prints the detection table")
	}
	start := time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC)
	o := DayOptions()
	fmt.Println("| change | 40 a day | 300 a day | 3000 a day | (threshold 4:) 40 | 300 | 3000 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, c := range []struct {
		name          string
		scale, spread float64
	}{{"none", 1, 1}, {"×1.25", 1.25, 1}, {"×1.5", 1.5, 1}, {"×2", 2, 1}, {"×3", 3, 1}, {"×15", 15, 1},
		{"spread ×1.5", 1, 1.5}, {"spread ×2.5", 1, 2.5}} {
		line := "| " + c.name
		var at4 string
		for _, n := range []int{40, 300, 3000} {
			rng := rand.New(rand.NewPCG(uint64(n), 99))
			var hit, hit4, tot int
			for range 200 {
				s := days(rng, start, 29, n, 20000, 0.8, func(d int, _ time.Time) change {
					if d == 28 {
						return change{c.scale, c.spread, n}
					}
					return change{1, 1, n}
				})
				res, _ := Detect(s, o)
				last := res[len(res)-1]
				tot++
				if last.Flagged {
					hit++
				}
				if last.Score > 4 {
					hit4++
				}
			}
			line += fmt.Sprintf(" | %d %%", 100*hit/tot)
			at4 += fmt.Sprintf(" | %d %%", 100*hit4/tot)
		}
		fmt.Println(line + at4 + " |")
	}
}
