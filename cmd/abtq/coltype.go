package main

import (
	"fmt"
	"strconv"
	"strings"
)

// kind is how a value of a DuckDB type is printed.
type kind uint8

const (
	kindUnknown     kind = iota // printed by its Go type
	kindBool                    // BOOLEAN
	kindInt                     // every integer type, HUGEINT and BIGNUM included
	kindFloat                   // FLOAT (single precision)
	kindDouble                  // DOUBLE
	kindDecimal                 // DECIMAL(w,s)
	kindText                    // VARCHAR, ENUM, BIT
	kindBlob                    // BLOB, GEOMETRY
	kindUUID                    // UUID
	kindDate                    // DATE
	kindTime                    // TIME
	kindTimeTZ                  // TIMETZ
	kindTimestamp               // TIMESTAMP, TIMESTAMP_S, TIMESTAMP_MS, TIMESTAMPTZ (µs)
	kindTimestampNS             // TIMESTAMP_NS
	kindInterval                // INTERVAL
	kindList                    // LIST (T[]) and ARRAY (T[n])
	kindStruct                  // STRUCT("a" T, ...)
	kindMap                     // MAP(K, V)
	kindUnion                   // UNION("a" T, ...)
	kindJSON                    // JSON
)

func (k kind) String() string {
	names := [...]string{"unknown", "bool", "int", "float", "double", "decimal", "text", "blob", "uuid", "date", "time",
		"timetz", "timestamp", "timestamp_ns", "interval", "list", "struct", "map", "union", "json"}
	if int(k) < len(names) {
		return names[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// numeric reports whether values of the kind are numbers (right-aligned
// in a table).
func (k kind) numeric() bool {
	switch k {
	case kindInt, kindFloat, kindDouble, kindDecimal, kindInterval:
		return true
	}
	return false
}

// nested reports whether values of the kind print as JSON in the text
// formats.
func (k kind) nested() bool {
	switch k {
	case kindList, kindStruct, kindMap, kindUnion, kindJSON:
		return true
	}
	return false
}

// colType is a column's (or a nested value's) DuckDB type, as far as
// printing needs it.
type colType struct {
	kind     kind
	elem     *colType // list, array: the element; map: the value
	key      *colType // map: the key
	fields   []field  // struct: the fields in order; union: the members
	fieldIdx map[string]int
}

type field struct {
	name string
	t    *colType
}

// unknownType prints values by their Go types.
var unknownType = &colType{kind: kindUnknown}

// field returns the type of a struct field or union member; unknownType if
// there is none of that name.
func (t *colType) field(name string) *colType {
	if i, ok := t.fieldIdx[name]; ok {
		return t.fields[i].t
	}
	return unknownType
}

// child returns the element (value) type of a list, array or map.
func (t *colType) child() *colType {
	if t.elem == nil {
		return unknownType
	}
	return t.elem
}

// parseType parses a type name as duckdb-go reports it
// (sql.ColumnType.DatabaseTypeName): "BIGINT", "DECIMAL(18,6)",
// "STRUCT(\"a\" INTEGER, \"b\" VARCHAR)[]", "MAP(VARCHAR, INTEGER)",
// "INTEGER[3]", "UNION(\"a\" INTEGER)". A name it does not know parses as
// unknownType (printed by the value's Go type); a malformed one is an
// error.
func parseType(s string) (*colType, error) {
	p := typeParser{s: s}
	t, err := p.typ()
	if err == nil && p.i != len(p.s) {
		err = p.errorf("unexpected %q", p.s[p.i:])
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) errorf(format string, a ...any) error {
	return fmt.Errorf("parse type %q at %d: %s", p.s, p.i, fmt.Sprintf(format, a...))
}

func (p *typeParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *typeParser) accept(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *typeParser) expect(c byte) error {
	if !p.accept(c) {
		return p.errorf("want %q", c)
	}
	return nil
}

// word reads a type name: letters, digits and '_'.
func (p *typeParser) word() string {
	p.space()
	j := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			break
		}
		p.i++
	}
	return p.s[j:p.i]
}

// quoted reads a "name" with "" for a quote.
func (p *typeParser) quoted() (string, error) {
	if err := p.expect('"'); err != nil {
		return "", err
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '"' {
			b.WriteByte(c)
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '"' {
			b.WriteByte('"')
			p.i++
			continue
		}
		return b.String(), nil
	}
	return "", p.errorf("unterminated name")
}

// typ reads a type and its list or array suffixes.
func (p *typeParser) typ() (*colType, error) {
	t, err := p.base()
	if err != nil {
		return nil, err
	}
	for p.accept('[') {
		p.word() // the array's size, if any
		if err := p.expect(']'); err != nil {
			return nil, err
		}
		t = &colType{kind: kindList, elem: t}
	}
	return t, nil
}

var scalarKinds = map[string]kind{
	"BOOLEAN": kindBool,
	"TINYINT": kindInt, "SMALLINT": kindInt, "INTEGER": kindInt, "BIGINT": kindInt, "HUGEINT": kindInt,
	"UTINYINT": kindInt, "USMALLINT": kindInt, "UINTEGER": kindInt, "UBIGINT": kindInt, "UHUGEINT": kindInt,
	"BIGNUM": kindInt,
	"FLOAT":  kindFloat, "DOUBLE": kindDouble,
	"VARCHAR": kindText, "ENUM": kindText, "BIT": kindText,
	"BLOB": kindBlob, "GEOMETRY": kindBlob,
	"UUID": kindUUID,
	"DATE": kindDate, "TIME": kindTime, "TIMETZ": kindTimeTZ,
	"TIMESTAMP": kindTimestamp, "TIMESTAMP_S": kindTimestamp, "TIMESTAMP_MS": kindTimestamp, "TIMESTAMPTZ": kindTimestamp,
	"TIMESTAMP_NS": kindTimestampNS,
	"INTERVAL":     kindInterval,
	"JSON":         kindJSON,
}

func (p *typeParser) base() (*colType, error) {
	name := p.word()
	switch name {
	case "":
		return nil, p.errorf("want a type")
	case "DECIMAL":
		if p.accept('(') {
			for !p.accept(')') {
				if p.i >= len(p.s) {
					return nil, p.errorf("unterminated DECIMAL")
				}
				p.i++
			}
		}
		return &colType{kind: kindDecimal}, nil
	case "STRUCT", "UNION":
		t := &colType{kind: kindStruct, fieldIdx: map[string]int{}}
		if name == "UNION" {
			t.kind = kindUnion
		}
		if err := p.expect('('); err != nil {
			return nil, err
		}
		for {
			n, err := p.quoted()
			if err != nil {
				return nil, err
			}
			ft, err := p.typ()
			if err != nil {
				return nil, err
			}
			t.fieldIdx[n] = len(t.fields)
			t.fields = append(t.fields, field{n, ft})
			if p.accept(')') {
				return t, nil
			}
			if err := p.expect(','); err != nil {
				return nil, err
			}
		}
	case "MAP":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		k, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
		v, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		return &colType{kind: kindMap, key: k, elem: v}, nil
	}
	if k, ok := scalarKinds[name]; ok {
		return &colType{kind: k}, nil
	}
	return unknownType, nil
}
