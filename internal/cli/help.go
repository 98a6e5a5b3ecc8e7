package cli

import "strings"

// Example formats a cobra Example: the blank lines around text are
// dropped, and its lines, their common indentation removed, are indented
// by two spaces, as cobra's help prints the rest. (strings.TrimSpace
// would also take the first line's indentation, leaving it out of line.)
// Examples are "# what it does" lines, each followed by "$ program ..."
// lines.
func Example(text string) string {
	lines := strings.Split(strings.Trim(text, "\n"), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			lines[i] = ""
			continue
		}
		lines[i] = "  " + l[indent:]
	}
	return strings.Join(lines, "\n")
}
