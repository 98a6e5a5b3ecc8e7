package main

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The anomaly archives: two weeks from Tuesday 2008-04-01 of 200,000 ADUs
// (about 38,000 connections, 96,000 response times) over 50 servers.
// Server #0 (Zipf share p = 0.26) has about 1,900 response times a
// weekday, #1 (p = 0.12) about 870, #3 (p = 0.057) about 410. The window
// is three weekdays, Tuesday 8 to Thursday 10 April.
var anomalyArgs = []string{"--adus", "200000", "--servers", "50", "--days", "14", "--seed", "1", "--quiet", "--rollup=false"}

const (
	windowFrom = "2008-04-08"
	windowSQL  = `request_time >= TIMESTAMP '2008-04-08' AND request_time < TIMESTAMP '2008-04-11'`
	// z90 is the standard normal's 90 % quantile: a lognormal's p90/p10 is
	// exp(2·z90·σ).
	z90 = 1.2815516
)

// genAnomaly writes an anomaly archive with extra flags into a temporary
// directory and returns it with the servers the generator draws.
func genAnomaly(t *testing.T, extra ...string) (string, []server) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "a")
	code, stdout, stderr := runCtx(context.Background(), append(append([]string{"--out", dir}, anomalyArgs...), extra...)...)
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stdout)
	cfg := defaultConfig()
	cfg.servers, cfg.seed = 50, 1
	return dir, newGen(cfg).servers
}

// rtStats holds a sample of response times: its size and quantiles (µs).
type rtStats struct {
	n             int64
	p10, p50, p90 float64
}

// responseTimes returns the statistics of srv's response times that cond
// (an SQL condition on the response_times view) selects.
func responseTimes(t *testing.T, dir string, srv netip.AddrPort, cond string) rtStats {
	t.Helper()
	row := queryRow(t, dir, fmt.Sprintf(`SELECT count(*), quantile_cont(response_time_us, 0.1),
		quantile_cont(response_time_us, 0.5), quantile_cont(response_time_us, 0.9)
		FROM response_times WHERE server_ip = '%s' AND server_port = %d AND (%s)`, srv.Addr(), srv.Port(), cond))
	var s rtStats
	var err error
	s.n, err = strconv.ParseInt(row[0], 10, 64)
	require.NoError(t, err)
	for i, q := range []*float64{&s.p10, &s.p50, &s.p90} {
		*q, err = strconv.ParseFloat(row[i+1], 64)
		require.NoError(t, err, row)
	}
	return s
}

// inOut returns srv's response-time statistics in the window and outside
// it, each with at least min response times.
func inOut(t *testing.T, dir string, srv netip.AddrPort, min int64) (in, out rtStats) {
	t.Helper()
	in = responseTimes(t, dir, srv, windowSQL)
	out = responseTimes(t, dir, srv, "NOT ("+windowSQL+")")
	require.GreaterOrEqual(t, in.n, min, "response times in the window")
	require.GreaterOrEqual(t, out.n, min, "response times outside")
	return in, out
}

// requireRatio checks that got/want is within tol of 1 in log terms
// (|ln(got/want)| <= tol).
func requireRatio(t *testing.T, want, got, tol float64, what string) {
	t.Helper()
	t.Logf("%s: want %.4g, got %.4g", what, want, got)
	require.LessOrEqual(t, math.Abs(math.Log(got/want)), tol, "%s: want %.3g, got %.3g", what, want, got)
}

// TestAnomalyEffects generates an archive per effect and checks it against
// the model. Tolerances: the sample median of a lognormal of spread σ has
// a standard error (in log terms) of 1.2533·σ/√n, the log of p90/p10 one
// of 2.28·σ/√n; a count, Poisson, 1/√n. Each tolerance is about 4
// standard errors or more for the sample sizes that the test requires.
func TestAnomalyEffects(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		check func(t *testing.T, dir string, servers []server)
	}{{
		// In: n ≥ 4,000, out: n ≥ 15,000 (σ = 0.8): the log ratio of the
		// medians has an SE of 0.018; 0.1 (10 %) is 5.5 SE. #1's (n ≥ 2,000
		// and 8,000): 0.025, 0.1 is 4 SE.
		name: "scale", spec: "server=#0,from=" + windowFrom + ",for=72h,scale=15",
		check: func(t *testing.T, dir string, servers []server) {
			in, out := inOut(t, dir, servers[0].addr, 4000)
			requireRatio(t, 15, in.p50/out.p50, 0.1, "#0's median in the window / outside")
			in, out = inOut(t, dir, servers[1].addr, 2000)
			requireRatio(t, 1, in.p50/out.p50, 0.1, "#1's median in the window / outside")
		},
	}, {
		// σ 2.0 in, n ≥ 4,000: the median's SE is 0.04 (0.15 is 3.8 SE),
		// that of ln(p90/p10) 0.072 in and 0.015 out (σ 0.8, n ≥ 15,000):
		// 0.3 is 4 SE.
		name: "spread", spec: "server=#0,from=" + windowFrom + ",for=72h,spread=2.5",
		check: func(t *testing.T, dir string, servers []server) {
			in, out := inOut(t, dir, servers[0].addr, 4000)
			requireRatio(t, 1, in.p50/out.p50, 0.15, "#0's median in the window / outside")
			want := math.Exp(2*z90*respTimeSig*2.5) / math.Exp(2*z90*respTimeSig)
			requireRatio(t, want, (in.p90/in.p10)/(out.p90/out.p10), 0.3, "#0's p90/p10 in the window / outside")
		},
	}, {
		// #3's share of connections in the window (n ≥ 1,000) against its
		// share outside (n ≥ 1,200): SE 0.043, 0.2 is 4.6 SE. Response
		// times (n ≥ 2,500 and 3,000): SE 0.027, 0.12 is 4.4 SE.
		name: "load", spec: "server=#3,from=" + windowFrom + ",for=72h,load=3",
		check: func(t *testing.T, dir string, servers []server) {
			srv := servers[3].addr
			row := queryRow(t, dir, fmt.Sprintf(`SELECT
				count(*) FILTER (WHERE w AND s), count(*) FILTER (WHERE w),
				count(*) FILTER (WHERE NOT w AND s), count(*) FILTER (WHERE NOT w)
				FROM (SELECT ts >= TIMESTAMP '2008-04-08' AND ts < TIMESTAMP '2008-04-11' AS w,
					server_ip = '%s' AND server_port = %d AS s FROM connections)`, srv.Addr(), srv.Port()))
			var c [4]float64
			for i := range c {
				var err error
				c[i], err = strconv.ParseFloat(row[i], 64)
				require.NoError(t, err)
			}
			require.GreaterOrEqual(t, c[0], 1000.0, "#3's connections in the window")
			require.GreaterOrEqual(t, c[2], 1200.0, "#3's connections outside")
			p := zipfPMF(len(servers))[3]
			want := 3 / (1 + 2*p) // the share F·p/(1+(F-1)·p) over p
			require.InDelta(t, 3, want, 0.35, "a server with a small share gets about F times its connections")
			requireRatio(t, want, (c[0]/c[1])/(c[2]/c[3]), 0.2, "#3's share of connections in the window / outside")
			// The days of the window are weekdays, 3 of the 14 days; the
			// outside days weigh 0.7 at weekends.
			perDay := (c[0] / 3) / (c[2] / 11)
			requireRatio(t, 3, perDay, 0.2, "#3's connections a day in the window / outside")
			in, out := inOut(t, dir, srv, 2500)
			requireRatio(t, 1, in.p50/out.p50, 0.12, "#3's median in the window / outside")
		},
	}, {
		// Weekend days (4, at 70 % of the traffic): n ≥ 4,000 against
		// weekdays n ≥ 15,000: SE 0.018, 0.1 is 5.5 SE.
		name: "weekend", spec: "server=#0,weekend=2",
		check: func(t *testing.T, dir string, servers []server) {
			const weekend = "dayofweek(request_time) IN (0, 6)"
			we := responseTimes(t, dir, servers[0].addr, weekend)
			wd := responseTimes(t, dir, servers[0].addr, "NOT "+weekend)
			require.GreaterOrEqual(t, we.n, int64(4000))
			require.GreaterOrEqual(t, wd.n, int64(15000))
			requireRatio(t, 2, we.p50/wd.p50, 0.1, "#0's median at weekends / on weekdays")
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, servers := genAnomaly(t, "--anomaly", tc.spec)
			tc.check(t, dir, servers)
		})
	}
}

// tinyArgs are the flags of generateTiny's archive, without its rollups.
var tinyArgs = []string{"--adus", "10000", "--servers", "200", "--days", "3", "--seed", "7", "--quiet", "--rollup=false"}

// genTiny writes generateTiny's archive with extra flags and its CSV,
// and returns the SHA-256 of the CSV's text and the run's input name and
// fingerprint.
func genTiny(t *testing.T, extra ...string) (rows, name, fingerprint string) {
	t.Helper()
	rows, name, fingerprint, _ = genTinyCSV(t, extra...)
	return rows, name, fingerprint
}

// genTinyCSV is genTiny that also returns the CSV's text.
func genTinyCSV(t *testing.T, extra ...string) (rows, name, fingerprint, csvText string) {
	t.Helper()
	dir := t.TempDir()
	out, csv := filepath.Join(dir, "a"), filepath.Join(dir, "adus.csv.gz")
	args := append(append([]string{"--out", out, "--csv", csv}, tinyArgs...), extra...)
	code, _, stderr := runCtx(context.Background(), args...)
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(csv)
	require.NoError(t, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	require.NoError(t, err)
	text, err := io.ReadAll(z)
	require.NoError(t, err)
	sum := sha256.Sum256(text)
	in := queryRow(t, out, `SELECT inputs[1].name, inputs[1].fingerprint FROM runs`)
	return hex.EncodeToString(sum[:]), in[0], in[1], string(text)
}

// TestAnomalyIdentity: without --anomaly, rows, input name and fingerprint
// are what they were before --anomaly existed; with it, the same flags
// give the same rows, and the normalised specs name the input.
func TestAnomalyIdentity(t *testing.T) {
	// Computed with abtgen before --anomaly (commit af82d90): the CSV of
	// generateTiny's archive, and the string its fingerprint hashed.
	const (
		oldRows = "1f5af62b8e90a14eb3d098692ca11457d5cc20bce3dba3a6a9a15d139f6bdb32"
		oldName = "abtgen --adus 10000 --servers 200 --days 3 --start 2008-04-01 --seed 7"
		oldFP   = "abtgen v1 adus=10000 servers=200 days=3 start=2008-04-01 seed=7 concurrent=0.03"
	)
	rows, name, fp := genTiny(t)
	require.Equal(t, oldRows, rows, "the rows of a run without --anomaly")
	require.Equal(t, oldName, name)
	sum := sha256.Sum256([]byte(oldFP))
	require.Equal(t, hex.EncodeToString(sum[:]), fp)

	cfg := defaultConfig()
	cfg.servers, cfg.seed = 200, 7
	addr := newGen(cfg).servers[0].addr.String()
	// The load redirects (and draws) only on April 2.
	spec := "server=#0,from=2008-04-02,for=24h,scale=3,load=2"
	rows1, name1, fp1 := genTiny(t, "--anomaly", spec, "--anomaly", "server=#5,spread=2")
	rows2, name2, fp2 := genTiny(t, "--anomaly", spec, "--anomaly", "server=#5,spread=2")
	require.Equal(t, rows1, rows2, "the same flags give the same rows")
	require.NotEqual(t, oldRows, rows1)
	require.Equal(t, oldName+" --anomaly server="+addr+",from=2008-04-02T00:00,for=24h0m0s,scale=3,load=2"+
		" --anomaly server="+newGen(cfg).servers[5].addr.String()+",from=2008-04-01T00:00,spread=2", name1)
	require.Equal(t, name1, name2)
	require.Equal(t, fp1, fp2)
	require.NotEqual(t, fp, fp1)

	// The same anomaly, written differently: the same input.
	rows3, name3, fp3 := genTiny(t, "--anomaly", "load=2, scale=3 ,for=1440m,from=2008-04-02T00:00,server="+addr,
		"--anomaly", "server=#5,spread=2,from=2008-04-01")
	require.Equal(t, rows1, rows3)
	require.Equal(t, name1, name3)
	require.Equal(t, fp1, fp3)
}

// TestAnomalyScaleRows: a scale anomaly leaves the other servers' rows as
// they are (it draws nothing more) and multiplies each response time of
// its server by the factor, to the µs.
func TestAnomalyScaleRows(t *testing.T) {
	cfg := defaultConfig()
	cfg.servers, cfg.seed = 200, 7
	srv := newGen(cfg).servers[0].addr
	key := srv.Addr().String() + "," + strconv.Itoa(int(srv.Port())) + ","
	split := func(csv string) (mine map[string][]string, others []string) {
		mine = map[string][]string{}
		for _, l := range strings.Split(strings.TrimSuffix(csv, "\n"), "\n")[1:] {
			f := strings.Split(l, ",")
			if strings.HasPrefix(strings.Join(f[1:3], ",")+",", key) {
				mine[f[5]+"/"+f[6]] = f // conn_id/ordinal
			} else {
				others = append(others, l)
			}
		}
		slices.Sort(others) // rows are in time order: #0's may move
		return mine, others
	}
	_, _, _, base := genTinyCSV(t)
	_, _, _, scaled := genTinyCSV(t, "--anomaly", "server=#0,scale=15")
	mineBase, othersBase := split(base)
	mineScaled, othersScaled := split(scaled)
	require.Equal(t, othersBase, othersScaled, "the other servers' rows")
	require.Len(t, mineScaled, len(mineBase))
	var requests int
	for k, b := range mineBase {
		s := mineScaled[k]
		require.NotNil(t, s, k)
		require.Equal(t, b[7:9], s[7:9], "%s: direction, size", k)
		// Times move, so the µs of the duration may round otherwise.
		require.InDelta(t, atof(t, b[9]), atof(t, s[9]), 1, "%s: duration", k)
		if b[7] != "c2s" || b[10] == "" || b[11] != "false" {
			continue
		}
		requests++
		// Each is the ns value floored to µs: 15 times one is within 16 µs
		// of the other.
		require.InDelta(t, 15*atof(t, b[10]), atof(t, s[10]), 16, "%s: response time", k)
	}
	require.Greater(t, requests, 500, "#0's response times")
}

// TestAnomalyUsage: a bad --anomaly is a usage error, in one line that
// names the spec and the problem, and writes nothing.
func TestAnomalyUsage(t *testing.T) {
	tests := []struct {
		spec string
		want string
	}{
		{"scale=2", "server= is required"},
		{"server=#0", "no effect: give at least one of scale=, spread=, load=, weekend="},
		{"server=#0,scale=fast", "scale=fast: must be a number greater than 0, at most 1000"},
		{"server=#0,spread=0", "spread=0: must be a number greater than 0, at most 1000"},
		{"server=#0,weekend=-2", "weekend=-2: must be a number greater than 0, at most 1000"},
		{"server=#0,scale=NaN", "scale=NaN: must be a number greater than 0, at most 1000"},
		{"server=#0,load=0.5", "load=0.5: must be a number from 1 to 1000"},
		{"server=#0,scale=1e6", "scale=1e6: must be a number greater than 0, at most 1000"},
		{"server=#0,speed=2", `unknown key "speed" (keys: server, from, for, scale, spread, load, weekend)`},
		{"server=#0,scale", "scale= needs a value"},
		{"server=#0,scale=", "scale= needs a value"},
		{"server=#0,scale=2,", "empty field"},
		{"", "empty field"},
		{"server=#0,scale=2,scale=3", "scale given twice"},
		{"server=#0,from=April,scale=2", "from=April: not a UTC time YYYY-MM-DD or YYYY-MM-DDTHH:MM"},
		{"server=#0,for=soon,scale=2", "for=soon: must be a duration greater than 0, such as 72h or 90m"},
		{"server=#0,for=-1h,scale=2", "for=-1h: must be a duration greater than 0"},
		{"server=#0,from=2008-03-31,scale=2", "window 2008-03-31T00:00 to 2008-04-04T00:00 is outside the archive's days, 2008-04-01T00:00 to 2008-04-04T00:00"},
		{"server=#0,from=2008-04-03T12:00,for=24h,scale=2", "window 2008-04-03T12:00 to 2008-04-04T12:00 is outside the archive's days"},
		{"server=#0,from=2008-04-04,scale=2", "window 2008-04-04T00:00 to 2008-04-04T00:00 is outside the archive's days"},
		{"server=#200,scale=2", "server=#200: there are only 200 servers (#0 to #199)"},
		{"server=#x,scale=2", "server=#x: #N needs a whole number N, 0 or more"},
		{"server=web,scale=2", "server=web: not IP:PORT or #N"},
		{"server=10.0.0.1:80,scale=2", "server 10.0.0.1:80 is not one of the generated servers"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "a")
			args := append([]string{"--out", out, "--anomaly", tc.spec}, tinyArgs...)
			code, stdout, stderr := runCtx(context.Background(), args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			require.Len(t, lines, 2, stderr)
			require.True(t, strings.HasPrefix(lines[0], fmt.Sprintf("abtgen: --anomaly %q: ", tc.spec)), lines[0])
			require.Contains(t, lines[0], tc.want)
			require.Equal(t, "Run 'abtgen --help' for usage.", lines[1])
			require.NoDirExists(t, out, "nothing written")
		})
	}
}

// atof parses a number of the CSV.
func atof(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}
