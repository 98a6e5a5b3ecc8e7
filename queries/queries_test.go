package queries

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStatements splits each archive SQL file into its statements: every
// one a CREATE, none ending in a semicolon, comments kept inside them but
// no statement of comments only; and a file whose last statement lacks its
// semicolon is refused.
func TestStatements(t *testing.T) {
	for name, want := range map[string]int{"macros": 6, "files": 4, "views": 6} {
		st, err := Statements(name)
		require.NoError(t, err)
		require.Len(t, st, want, name)
		for _, s := range st {
			require.False(t, strings.HasSuffix(s, ";"), s)
			var code []string
			for _, line := range strings.Split(s, "\n") {
				if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
					code = append(code, t)
				}
			}
			require.NotEmpty(t, code)
			require.True(t, strings.HasPrefix(code[0], "CREATE OR REPLACE "), s)
		}
	}
	_, err := Statements("nothing")
	require.Error(t, err)
	_, err = split("cut", "CREATE VIEW a AS SELECT 1;\n-- the next one\nCREATE VIEW b AS\nSELECT 2\n")
	require.EqualError(t, err, `archive SQL "cut": a statement without its semicolon at the end`)
	st, err := split("two", "-- a\nCREATE VIEW a AS SELECT ';';\n  \nCREATE VIEW b AS -- b\nSELECT 2;  \n-- the end\n")
	require.NoError(t, err)
	require.Equal(t, []string{"-- a\nCREATE VIEW a AS SELECT ';'", "CREATE VIEW b AS -- b\nSELECT 2"}, st)
}
