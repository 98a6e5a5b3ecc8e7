// Package cli holds what the command lines of abt's programs share: the
// version they report (--version, and the producer they record in the
// archive) and the wording of flag errors. It parses no flags itself.
package cli

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Build is the running binary as the Go toolchain described it when it
// built it (runtime/debug.ReadBuildInfo). Nothing is stamped by hand
// (no -ldflags -X): a release tag, or any commit, gives its own version.
type Build struct {
	// Version is the main module's version: a release tag ("v1.2.0") or,
	// for an untagged commit, a pseudo-version
	// ("v0.0.0-20260421093000-3c229fd0fff0"), followed by "+dirty" when
	// the working tree had uncommitted changes. It is "devel" when Go
	// recorded none: go run, go test, -buildvcs=false, a git worktree.
	Version string
	// Revision is the VCS commit the binary was built from (a full
	// hash); "" when Go recorded none.
	Revision string
	// Time is the commit's time; zero when unknown.
	Time time.Time
	// Dirty says the working tree had uncommitted changes (vcs.modified).
	Dirty bool
	// GoVersion is the toolchain that built the binary ("go1.26.8").
	GoVersion string
}

// develVersion is Version when Go recorded no module version.
const develVersion = "devel"

// ReadBuild describes the running binary.
func ReadBuild() Build { return buildFrom(debug.ReadBuildInfo()) }

// buildFrom reads a build's description; ok false means the binary carries
// none (built without module support).
func buildFrom(bi *debug.BuildInfo, ok bool) Build {
	b := Build{Version: develVersion}
	if !ok || bi == nil {
		return b
	}
	b.GoVersion = bi.GoVersion
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			b.Dirty = s.Value == "true"
		}
	}
	return b
}

// dirtySuffix marks a version built from a tree with uncommitted changes,
// as the go command writes it.
const dirtySuffix = "+dirty"

// String is the version in one word, as the archive records it: Version;
// for a "devel" build with a known revision, "devel-" and the revision's
// first 12 digits; "+dirty" when the tree had uncommitted changes.
func (b Build) String() string {
	v := b.Version
	if v == develVersion && b.Revision != "" {
		v += "-" + b.Revision[:min(12, len(b.Revision))]
	}
	if b.Dirty && !strings.HasSuffix(v, dirtySuffix) {
		v += dirtySuffix
	}
	return v
}

// Detail is String followed by the revision, its time, "dirty" and the
// toolchain in parentheses:
//
//	v0.0.0-20260421093000-3c229fd0fff0+dirty (revision 3c229fd0fff0…, 2026-04-21T09:30:00Z, dirty; go1.26.8)
//	devel (revision unknown; go1.26.8)
func (b Build) Detail() string {
	var rev []string
	if b.Revision == "" {
		rev = append(rev, "revision unknown")
	} else {
		rev = append(rev, "revision "+b.Revision)
	}
	if !b.Time.IsZero() {
		rev = append(rev, b.Time.UTC().Format(time.RFC3339))
	}
	if b.Dirty {
		rev = append(rev, "dirty")
	}
	s := b.String() + " (" + strings.Join(rev, ", ")
	if b.GoVersion != "" {
		s += "; " + b.GoVersion
	}
	return s + ")"
}

// Producer names program and its version for the archive (the footers'
// abt.producer and the runs table's producer column): "abt <program>
// <version>".
func Producer(program string) string { return "abt " + program + " " + ReadBuild().String() }

// versionUsage is the --version flag's help.
const versionUsage = "print the version (module version and VCS revision) and exit"

// SetVersion gives root a --version flag that prints
// "<name> version <Detail>" on standard output, as cobra's version template
// does. The flag is defined here rather than by cobra so that it has no
// -v shorthand (-v means verbose to many users).
func SetVersion(root *cobra.Command) {
	root.Version = ReadBuild().Detail()
	root.Flags().Bool("version", false, versionUsage)
}

// VersionCmd returns program's "version" command, which prints the same
// line as --version. Programs whose first argument is a command or an
// input have one, so that "adu2parquet version" is the version rather
// than an input file named "version" (./version is that file).
func VersionCmd(program string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version (module version and VCS revision)",
		Long:  "version prints the program's version as --version does: the module version,\nthe VCS revision it was built from, \"dirty\" when the tree had uncommitted\nchanges, and the Go toolchain. A build without VCS information is \"devel\".",
		Example: Example(`
# Which build this is
$ ` + program + ` version

# The same
$ ` + program + ` --version`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write([]byte(program + " version " + ReadBuild().Detail() + "\n"))
			return err
		},
	}
}
