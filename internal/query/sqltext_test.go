package query

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSQLText(t *testing.T) {
	tests := []struct {
		name, in, stripped string
		count              int
		keyword            string
	}{
		{"plain", "SELECT 1", "SELECT 1", 1, "SELECT"},
		{"terminator", "SELECT 1;", "SELECT 1", 1, "SELECT"},
		{"terminators and space", " SELECT 1 ; ;\n", " SELECT 1", 1, "SELECT"},
		{"line comment", "SELECT 1; -- x", "SELECT 1", 1, "SELECT"},
		{"line comment, no terminator", "SELECT 1 -- x ;", "SELECT 1", 1, "SELECT"},
		{"block comment", "SELECT 1 /* ; DROP VIEW adus */", "SELECT 1", 1, "SELECT"},
		{"nested block comment", "SELECT 1 /* /* */ ; */ ;", "SELECT 1", 1, "SELECT"},
		{"string", "SELECT ';' ;", "SELECT ';'", 1, "SELECT"},
		{"doubled quote", "SELECT 'a'';--' -- c", "SELECT 'a'';--'", 1, "SELECT"},
		{"E string", `SELECT E'\';' ;`, `SELECT E'\';'`, 1, "SELECT"},
		{"quoted identifier", `SELECT 1 AS ";" ;`, `SELECT 1 AS ";"`, 1, "SELECT"},
		{"dollar string", "SELECT $$;--$$;", "SELECT $$;--$$", 1, "SELECT"},
		{"tagged dollar string", "SELECT $a$ $$; $a$ ;", "SELECT $a$ $$; $a$", 1, "SELECT"},
		{"parameter", "SELECT $from;", "SELECT $from", 1, "SELECT"},
		{"two statements", "SELECT 1; COPY adus TO 'x'", "SELECT 1; COPY adus TO 'x'", 2, "SELECT"},
		{"comment first", "-- c\n/* d */ attach 'x'", "-- c\n/* d */ attach 'x'", 1, "ATTACH"},
		{"empty", " ;; -- x", "", 0, ""},
		{"parenthesis first", "(SELECT 1) UNION (SELECT 2)", "(SELECT 1) UNION (SELECT 2)", 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.stripped, stripTerminator(tc.in))
			require.Equal(t, tc.count, statementCount(tc.in))
			require.Equal(t, tc.keyword, firstKeyword(tc.in))
		})
	}
}
