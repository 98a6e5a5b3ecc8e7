package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// How values print (docs/queries.md, "Output"). One rule per type, the same
// in every format, but for the precision of floating-point numbers:
//
//   - NULL: empty in the text formats (table, TSV, CSV), null in JSON.
//   - Integers (of any width) and DECIMALs: every digit, never an exponent.
//   - DOUBLE and FLOAT: in the text formats rounded to textDigits
//     significant digits (a FLOAT to its own shortest form), in plain
//     notation from 1e-6 to 1e15 and with an exponent outside it; an
//     integral value below 2^53 prints as an integer. JSON keeps every bit
//     (the shortest form that reads back as the same number). NaN and
//     infinities print as nan, inf, -inf (JSON strings).
//   - Timestamps: ISO 8601 in UTC, 2026-11-22T01:02:03Z, with six digits of
//     fraction when there is one (.500000); nine for TIMESTAMP_NS. DATE:
//     2026-11-22; TIME: 01:02:03[.500000]; TIMETZ with its offset.
//   - INTERVAL: seconds, a number (5400, 0.25); a month counts 30 days, as
//     DuckDB's epoch() counts it.
//   - BLOB: as DuckDB casts it to text (printable ASCII as is, other bytes
//     \xHH); UUID: 8-4-4-4-12 hex digits.
//   - LIST, ARRAY, STRUCT, MAP, UNION, JSON: JSON (a struct or map is an
//     object, its fields in order; a union is its member's value) in every
//     format, so that a spreadsheet cell or a TSV field holds one value any
//     JSON reader parses.

// textDigits is how many significant digits a DOUBLE keeps in the text
// formats: enough to tell apart the ratios of counts up to 10^9 (a CDF over
// a month of a busy link) and to keep the µs of up to 10^4 s, never the
// binary rounding noise of 0.1+0.2 = 0.30000000000000004.
const textDigits = 10

// formatter formats the values of one output format.
type formatter struct {
	fullFloats bool // JSON: every bit of a DOUBLE
}

var (
	textFormat = formatter{}
	jsonFormat = formatter{fullFloats: true}
)

// text formats a value with no type information (by its Go type) for the
// text formats.
func text(v any) string { return textFormat.text(v, unknownType) }

// text formats a non-nested value of type t, or a nested one as JSON, for
// the text formats.
func (f formatter) text(v any, t *colType) string {
	if v == nil {
		return ""
	}
	k := t.kind
	if k == kindUnknown {
		k = kindOf(v)
	}
	if k.nested() {
		return string(f.appendJSON(nil, v, t))
	}
	if s, ok := f.scalar(v, k); ok {
		return s
	}
	return fmt.Sprint(v)
}

// kindOf guesses a kind from a Go value (a value of unknown type).
func kindOf(v any) kind {
	switch v.(type) {
	case bool:
		return kindBool
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, *big.Int:
		return kindInt
	case float32:
		return kindFloat
	case float64:
		return kindDouble
	case duckdb.Decimal:
		return kindDecimal
	case string:
		return kindText
	case []byte:
		return kindBlob
	case time.Time:
		return kindTimestamp
	case duckdb.Interval:
		return kindInterval
	case []any:
		return kindList
	case map[string]any:
		return kindStruct
	case duckdb.OrderedMap:
		return kindMap
	case duckdb.Union:
		return kindUnion
	}
	return kindUnknown
}

// scalar formats a scalar value as text; ok is false when v is not of a
// Go type that kind k comes as.
func (f formatter) scalar(v any, k kind) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return fmt.Sprint(x), true
	case *big.Int:
		return x.String(), true
	case duckdb.Decimal:
		return x.String(), true
	case float64:
		if f.fullFloats {
			return formatFloat(x, -1, 64), true
		}
		return formatFloat(x, textDigits, 64), true
	case float32:
		return formatFloat(float64(x), -1, 32), true
	case duckdb.Interval:
		return intervalSeconds(x), true
	case time.Time:
		return formatTime(x, k), true
	case []byte:
		if k == kindUUID && len(x) == 16 {
			return formatUUID(x), true
		}
		return blobText(x), true
	}
	return "", false
}

// formatUUID formats 16 bytes as a UUID: 8-4-4-4-12 hex digits.
func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// formatFloat formats x with at most digits significant digits (-1: the
// shortest that reads back as x at that bit size) by the rule above.
func formatFloat(x float64, digits, bitSize int) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	case x == 0:
		return "0" // -0 too
	case x == math.Trunc(x) && math.Abs(x) < 1<<53:
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	if digits > 0 {
		// Round to digits significant digits; the shortest form of the
		// result has at most that many.
		x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'e', digits-1, bitSize), 64)
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatFloat(x, 'f', 0, 64)
		}
	}
	if a := math.Abs(x); a >= 1e-6 && a < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, bitSize)
	}
	return strconv.FormatFloat(x, 'e', -1, bitSize)
}

// formatTime formats a date, time or timestamp by the rule above.
func formatTime(t time.Time, k kind) string {
	switch k {
	case kindDate:
		return t.Format("2006-01-02")
	case kindTime:
		return t.Format("15:04:05") + fraction(t, 6)
	case kindTimeTZ:
		return t.Format("15:04:05") + fraction(t, 6) + t.Format("Z07:00")
	case kindTimestampNS:
		t = t.UTC()
		return t.Format("2006-01-02T15:04:05") + fraction(t, 9) + "Z"
	}
	t = t.UTC()
	return t.Format("2006-01-02T15:04:05") + fraction(t, 6) + "Z"
}

// fraction returns t's fraction of a second with digits digits (6: µs, 9:
// ns), or "" when it is zero.
func fraction(t time.Time, digits int) string {
	ns := t.Nanosecond()
	if digits == 6 {
		ns /= 1000
	}
	if ns == 0 {
		return ""
	}
	return fmt.Sprintf(".%0*d", digits, ns)
}

// intervalSeconds formats an interval as seconds, exactly (µs), with a
// month of 30 days.
func intervalSeconds(iv duckdb.Interval) string {
	us := new(big.Int).SetInt64(int64(iv.Months)*30 + int64(iv.Days))
	us.Mul(us, big.NewInt(86400_000000))
	us.Add(us, big.NewInt(iv.Micros))
	return microsText(us)
}

// microsText formats a count of µs as seconds: 5400, 0.25, -12.520778.
func microsText(us *big.Int) string {
	sign := ""
	if us.Sign() < 0 {
		sign = "-"
		us = new(big.Int).Neg(us)
	}
	s, frac := new(big.Int).QuoRem(us, big.NewInt(1_000000), new(big.Int))
	out := sign + s.String()
	if frac.Sign() != 0 {
		out += "." + strings.TrimRight(fmt.Sprintf("%06d", frac.Int64()), "0")
	}
	return out
}

// blobText formats bytes as DuckDB casts a BLOB to text: printable ASCII
// as is, other bytes and the quotes and backslash as \xHH.
func blobText(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' && c != '\'' && c != '"' {
			s.WriteByte(c)
			continue
		}
		fmt.Fprintf(&s, `\x%02X`, c)
	}
	return s.String()
}

// appendJSON appends v, of type t, as JSON.
func (f formatter) appendJSON(b []byte, v any, t *colType) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	k := t.kind
	if k == kindUnknown {
		k = kindOf(v)
	}
	switch x := v.(type) {
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = f.appendJSON(b, e, t.child())
		}
		return append(b, ']')
	case map[string]any:
		return f.appendStruct(b, x, t)
	case duckdb.OrderedMap:
		return f.appendMap(b, x, t)
	case duckdb.Union:
		return f.appendJSON(b, x.Value, t.field(x.Tag))
	}
	// A JSON value's leaves (string, float64, bool) are of the kinds of
	// their Go types.
	if k == kindJSON {
		k = kindOf(v)
	}
	s, ok := f.scalar(v, k)
	if !ok {
		return appendJSONString(b, fmt.Sprint(v))
	}
	switch x := v.(type) {
	case bool, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint, *big.Int, duckdb.Decimal, duckdb.Interval:
		return append(b, s...)
	case float32:
		if !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) {
			return append(b, s...)
		}
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return append(b, s...)
		}
	}
	return appendJSONString(b, s)
}

// appendStruct appends a struct as an object, its fields in the type's
// order (a struct of unknown type: in name order).
func (f formatter) appendStruct(b []byte, m map[string]any, t *colType) []byte {
	names := make([]string, 0, len(m))
	if t.kind == kindStruct && len(t.fields) == len(m) {
		for _, fl := range t.fields {
			names = append(names, fl.name)
		}
	} else {
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	b = append(b, '{')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
		b = append(b, ':')
		b = f.appendJSON(b, m[n], t.field(n))
	}
	return append(b, '}')
}

// appendMap appends a map as an object in its key order, each key as its
// text.
func (f formatter) appendMap(b []byte, m duckdb.OrderedMap, t *colType) []byte {
	kt := t.key
	if kt == nil {
		kt = unknownType
	}
	keys, vals := m.Keys(), m.Values()
	b = append(b, '{')
	for i := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.text(keys[i], kt))
		b = append(b, ':')
		b = f.appendJSON(b, vals[i], t.child())
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string (HTML characters as they
// are).
func appendJSONString(b []byte, s string) []byte {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, strings.TrimSuffix(sb.String(), "\n")...)
}
