package query

import "strings"

// sqlTokens splits SQL text into tokens the way DuckDB's lexer delimits
// them: whitespace and comments (-- to the end of the line, nested /* */)
// are dropped; a string ('...' with ” inside, E'...' with backslash
// escapes, $tag$...$tag$) or a quoted identifier ("...") is one token; ';'
// is a token of its own. It returns each token's [start, end) in s.
//
// It is not the sandbox: Check asks DuckDB's parser what the text is. The
// tokens only trim a statement's terminator (stripTerminator) and word a
// refusal (count the statements, name the first keyword). Unterminated
// strings and comments run to the end of the text; DuckDB refuses them.
func sqlTokens(s string) [][2]int {
	var toks [][2]int
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case strings.HasPrefix(s[i:], "--"):
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
			continue
		case strings.HasPrefix(s[i:], "/*"):
			i = skipBlockComment(s, i)
			continue
		case c == '\'':
			i = skipQuoted(s, i, '\'', false)
		case c == '"':
			i = skipQuoted(s, i, '"', false)
		case (c == 'e' || c == 'E') && i+1 < len(s) && s[i+1] == '\'':
			i = skipQuoted(s, i+1, '\'', true)
		case c == '$':
			i = skipDollar(s, i)
		case isWordByte(c):
			for i < len(s) && (isWordByte(s[i]) || s[i] == '$') {
				i++
			}
		default:
			i++
		}
		toks = append(toks, [2]int{start, i})
	}
	return toks
}

// isWordByte reports whether c can be part of an identifier, keyword or
// number (bytes of UTF-8 sequences included).
func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// skipBlockComment returns the index after the /* */ comment at i, which
// may nest.
func skipBlockComment(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// skipQuoted returns the index after the string or quoted identifier
// opened by q at i; a doubled q stands for itself, and with backslash a
// backslash escapes the next byte.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for i++; i < len(s); i++ {
		switch {
		case backslash && s[i] == '\\':
			i++
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return i
}

// skipDollar returns the index after the token at s[i] == '$': a
// dollar-quoted string ($$...$$, $tag$...$tag$) or a parameter ($1,
// $name).
func skipDollar(s string, i int) int {
	j := i + 1
	for j < len(s) && isWordByte(s[j]) && !(j == i+1 && s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j < len(s) && s[j] == '$' {
		tag := s[i : j+1]
		if k := strings.Index(s[j+1:], tag); k >= 0 {
			return j + 1 + k + len(tag)
		}
		return len(s)
	}
	for j < len(s) && isWordByte(s[j]) {
		j++
	}
	return j
}

// stripTerminator returns stmt without what follows its last token other
// than ';': the terminating semicolons, trailing comments and space. Text
// placed after the result cannot end up inside a comment of stmt's.
func stripTerminator(stmt string) string {
	end := 0
	for _, t := range sqlTokens(stmt) {
		if stmt[t[0]:t[1]] != ";" {
			end = t[1]
		}
	}
	return stmt[:end]
}

// statementCount counts the non-empty ';'-separated statements of s.
func statementCount(s string) int {
	n, empty := 0, true
	for _, t := range sqlTokens(s) {
		if s[t[0]:t[1]] == ";" {
			empty = true
			continue
		}
		if empty {
			n++
			empty = false
		}
	}
	return n
}

// firstKeyword returns s's first token in upper case when it is a word
// (the statement's keyword), else "".
func firstKeyword(s string) string {
	toks := sqlTokens(s)
	if len(toks) == 0 {
		return ""
	}
	w := s[toks[0][0]:toks[0][1]]
	for i := range len(w) {
		if !(w[i] >= 'a' && w[i] <= 'z' || w[i] >= 'A' && w[i] <= 'Z' || w[i] == '_') {
			return ""
		}
	}
	return strings.ToUpper(w)
}
