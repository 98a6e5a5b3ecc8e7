package anomaly

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// SavedVersion is the version of the saved-models format (Saved).
const SavedVersion = 1

// Trained is a server's model as trained on its latest periods, saved so
// that new periods can be scored without reading the history again.
type Trained struct {
	Server string `json:"server"`
	Port   int32  `json:"port"`
	// Through is the end of the last period the model knows: new periods
	// begin at or after it.
	Through time.Time `json:"through"`
	Model   Model     `json:"model"`
	// UsualN, UsualMedian and UsualP99 are the training periods' median
	// count, median and 99th percentile (µs).
	UsualN      float64 `json:"usual_n"`
	UsualMedian float64 `json:"usual_median_us"`
	UsualP99    float64 `json:"usual_p99_us"`
}

// Saved is a file of trained models and the options they were trained
// with.
type Saved struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// Period is "day" or "hour"; the other fields are the options'.
	Period     string    `json:"period"`
	Window     int       `json:"window"`
	MinSamples int64     `json:"min_samples"`
	Variance   float64   `json:"variance"`
	Threshold  float64   `json:"threshold"`
	Servers    []Trained `json:"servers"`
}

// Train returns the model of s's latest training window: the eligible
// periods (at least o.MinSamples response times, not flagged by Detect
// over s with o) that began in the o.Window periods before through, the
// end of s's last period or o.To when set. ok is false when there are
// fewer than o.MinTrain of them.
func Train(s Series, o Options) (t Trained, ok bool) {
	_, _, t, ok = detect(s, o, true)
	return t, ok
}

// Score scores period p against the saved model, as Detect would have with
// the same training; sparse is true (and the result empty) when p has
// fewer than minSamples response times.
func (t *Trained) Score(p Period, minSamples int64, threshold float64) (r Result, sparse bool) {
	n := p.Count()
	if n < minSamples || p.Hist == nil {
		return r, true
	}
	r = Result{Server: t.Server, Port: t.Port, Start: p.Start, N: n, Training: t.Model.Training,
		Components: len(t.Model.Components), Score: t.Model.Score(QF(p.Hist)) / sampleSlack(float64(n), t.UsualN),
		Median: Quantile(p.Hist, 0.5), P99: Quantile(p.Hist, 0.99), UsualMedian: t.UsualMedian, UsualP99: t.UsualP99}
	r.Flagged = r.Score > threshold
	return r, false
}

// WriteSaved writes s as JSON.
func WriteSaved(w io.Writer, s *Saved) error {
	e := json.NewEncoder(w)
	e.SetIndent("", " ")
	return e.Encode(s)
}

// ReadSaved reads models written by WriteSaved; name is the file's name
// for errors.
func ReadSaved(r io.Reader, name string) (*Saved, error) {
	var s Saved
	d := json.NewDecoder(r)
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if s.Version != SavedVersion {
		return nil, fmt.Errorf("%s: saved models of version %d, not %d", name, s.Version, SavedVersion)
	}
	if s.Period != "day" && s.Period != "hour" {
		return nil, fmt.Errorf("%s: period %q is not day or hour", name, s.Period)
	}
	for i, t := range s.Servers {
		m := t.Model
		if len(m.Components) != len(m.Variances) || !(m.Residual > 0) || !(m.Scale > 0) || t.Server == "" {
			return nil, fmt.Errorf("%s: server %d (%s:%d): not a model", name, i, t.Server, t.Port)
		}
		for _, v := range m.Variances {
			if !(v > 0) {
				return nil, fmt.Errorf("%s: server %d (%s:%d): not a model", name, i, t.Server, t.Port)
			}
		}
	}
	return &s, nil
}
