// Package clitest checks, in tests, what the help of every command of a
// program shows, by running the program as a user does: each command
// listed in its help has examples, formatted alike, and a one-line
// description.
package clitest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/cli"
)

// Run runs the program with args and returns its exit status and
// standard output.
type Run func(args ...string) (int, string)

// RunAll runs the program with args and returns its exit status, standard
// output and standard error.
type RunAll func(args ...string) (int, string, string)

// CheckVersion runs the program with each of forms ("--version",
// "version") and checks that it prints "<program> version <build>" on
// standard output, nothing on standard error, and exits 0.
func CheckVersion(t *testing.T, program string, run RunAll, forms ...string) {
	t.Helper()
	want := program + " version " + cli.ReadBuild().Detail() + "\n"
	for _, form := range forms {
		code, out, stderr := run(form)
		require.Equal(t, 0, code, "%s %s: %s", program, form, stderr)
		require.Equal(t, want, out, "%s %s", program, form)
		require.Empty(t, stderr, "%s %s", program, form)
	}
}

// maxListLine is the widest line a command list may print: a short
// description is one line of an 80-column terminal, and the detail goes
// in the long description.
const maxListLine = 80

// builtIn are cobra's own commands, whose help cobra writes.
var builtIn = map[string]bool{"help": true, "completion": true}

// CheckHelp runs "<command> --help" for the program's root and every
// command its help lists, recursively, and checks each: it has an
// "Examples:" section of "# ..." lines, each followed by "$ <program> ..."
// lines, indented by two spaces like the rest of the help; and each line
// of its list of commands fits maxListLine columns, with a description
// that does not end in a period. It returns the commands checked.
func CheckHelp(t *testing.T, program string, run Run) []string {
	t.Helper()
	var checked []string
	var walk func(path []string)
	walk = func(path []string) {
		name := strings.Join(append([]string{program}, path...), " ")
		code, out := run(append(append([]string{}, path...), "--help")...)
		require.Equal(t, 0, code, "%s --help", name)
		checked = append(checked, name)
		checkExamples(t, name, program, section(out, "Examples:"))
		for _, line := range section(out, "Available Commands:") {
			require.LessOrEqual(t, len(line), maxListLine, "%s: the description is one line: %q", name, line)
			fields := strings.Fields(line)
			require.GreaterOrEqual(t, len(fields), 2, "%s: %q", name, line)
			require.False(t, strings.HasSuffix(line, "."), "%s: no period after a short description: %q", name, line)
			if !builtIn[fields[0]] {
				walk(append(append([]string{}, path...), fields[0]))
			}
		}
	}
	walk(nil)
	return checked
}

// checkExamples checks an Examples section.
func checkExamples(t *testing.T, name, program string, lines []string) {
	t.Helper()
	require.NotEmpty(t, lines, "%s --help has examples", name)
	commented := false
	for _, l := range lines {
		switch {
		case l == "":
			commented = false
		case strings.HasPrefix(l, "  # "):
			commented = true
		case strings.HasPrefix(l, "  $ "+program+" ") || l == "  $ "+program:
			require.True(t, commented, "%s: each example follows a '# what it does' line: %q", name, l)
		default:
			require.Failf(t, "badly formed example", "%s: want '  # ...' or '  $ %s ...' lines, got %q", name, program, l)
		}
	}
}

// section returns the lines of a help section, from its title to the next
// blank line followed by an unindented one.
func section(help, title string) []string {
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		if l != title {
			continue
		}
		var out []string
		for _, l := range lines[i+1:] {
			if l != "" && !strings.HasPrefix(l, " ") {
				break
			}
			out = append(out, l)
		}
		for len(out) > 0 && out[len(out)-1] == "" {
			out = out[:len(out)-1]
		}
		return out
	}
	return nil
}
