package cli

import (
	"bytes"
	"errors"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func TestBuild(t *testing.T) {
	const rev = "3c229fd0fff0d6f08d9c1b8add3a4f28b58ee715"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-04-21T09:30:00Z"}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name     string
		bi       *debug.BuildInfo
		ok       bool
		str, det string
	}{
		{"no build info", nil, false, "devel", "devel (revision unknown)"},
		{"go run or go test", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true,
			"devel", "devel (revision unknown; go1.26.8)"},
		{"release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: vcs("false")}, true,
			"v1.2.0", "v1.2.0 (revision " + rev + ", 2026-04-21T09:30:00Z; go1.26.8)"},
		{"untagged commit, dirty", &debug.BuildInfo{GoVersion: "go1.26.8",
			Main: debug.Module{Version: "v0.0.0-20260421093000-3c229fd0fff0+dirty"}, Settings: vcs("true")}, true,
			"v0.0.0-20260421093000-3c229fd0fff0+dirty",
			"v0.0.0-20260421093000-3c229fd0fff0+dirty (revision " + rev + ", 2026-04-21T09:30:00Z, dirty; go1.26.8)"},
		{"devel with a revision (workspace)", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("true")}, true,
			"devel-3c229fd0fff0+dirty", "devel-3c229fd0fff0+dirty (revision " + rev + ", 2026-04-21T09:30:00Z, dirty; go1.26.8)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := buildFrom(tc.bi, tc.ok)
			require.Equal(t, tc.str, b.String())
			require.Equal(t, tc.det, b.Detail())
		})
	}
	require.Equal(t, "abt adu2parquet "+ReadBuild().String(), Producer("adu2parquet"))
}

func TestBuildTime(t *testing.T) {
	b := buildFrom(&debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.time", Value: "2026-04-21T09:30:00Z"}}}, true)
	require.Equal(t, time.Date(2026, 4, 21, 9, 30, 0, 0, time.UTC), b.Time)
}

// TestVersionFlagAndCommand: --version and the version command print the
// same line on standard output.
func TestVersionFlagAndCommand(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		root := &cobra.Command{Use: "prog <input>...", Args: cobra.MinimumNArgs(1), RunE: func(*cobra.Command, []string) error {
			return errors.New("ran")
		}}
		SetVersion(root)
		root.AddCommand(VersionCmd("prog"))
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		require.NoError(t, root.Execute())
		require.Equal(t, "prog version "+ReadBuild().Detail()+"\n", out.String())
	}
}

func TestFlagError(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"int", []string{"--port", "notanint"}, `--port "notanint": must be a whole number`},
		{"int range", []string{"--port", "99999999999999999999"}, `--port "99999999999999999999": must be a whole number from -9223372036854775808 to 9223372036854775807`},
		{"int64", []string{"--rows", "1e3"}, `--rows "1e3": must be a whole number`},
		{"uint64 negative", []string{"--seed", "-1"}, `--seed "-1": must be a whole number, 0 or more`},
		{"float", []string{"--share", "half"}, `--share "half": must be a number`},
		{"duration", []string{"--idle", "5"}, `--idle "5": must be a duration such as 500ms, 90s, 5m or 1h30m`},
		{"bool", []string{"--quiet=maybe"}, `--quiet "maybe": must be true or false`},
		{"bool shorthand", []string{"-q=maybe"}, `--quiet "maybe": must be true or false`},
		{"custom value keeps its words", []string{"--size", "lots"}, `--size "lots": must be a size such as 1GiB`},
		{"missing value", []string{"--idle"}, `--idle needs a value: a duration such as 500ms, 90s, 5m or 1h30m`},
		{"missing string", []string{"--out"}, `--out needs a value`},
		{"unknown flag", []string{"--bogus"}, `unknown flag: --bogus`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("prog", pflag.ContinueOnError)
			fs.SetOutput(&bytes.Buffer{})
			fs.Int("port", 0, "")
			fs.Int64("rows", 0, "")
			fs.Uint64("seed", 0, "")
			fs.Float64("share", 0, "")
			fs.Duration("idle", 0, "")
			fs.BoolP("quiet", "q", false, "")
			fs.String("out", "", "")
			fs.Var(&sizeValue{}, "size", "")
			err := FlagError(fs.Parse(tc.args))
			require.EqualError(t, err, tc.want)
			require.NotContains(t, err.Error(), "strconv")
			var perr *pflag.InvalidValueError
			if strings.Contains(tc.want, `": must`) {
				require.ErrorAs(t, err, &perr, "unwraps to pflag's error")
			}
		})
	}
	require.NoError(t, FlagError(nil))
}

// sizeValue is a custom flag value with its own error.
type sizeValue struct{}

func (*sizeValue) String() string { return "" }
func (*sizeValue) Set(string) error {
	return errors.New("must be a size such as 1GiB")
}
func (*sizeValue) Type() string { return "size" }

func TestExample(t *testing.T) {
	in := `
    # One
    $ prog a

    # Two
    $ prog b
      --more
`
	require.Equal(t, "  # One\n  $ prog a\n\n  # Two\n  $ prog b\n    --more", Example(in))
	require.Equal(t, "  # One\n  $ prog a", Example("# One\n$ prog a"))
}
