package cli

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// flagError is a flag parsing error reworded; it unwraps to pflag's.
type flagError struct {
	msg string
	err error
}

func (e *flagError) Error() string { return e.msg }
func (e *flagError) Unwrap() error { return e.err }

// FlagError rewords an error of pflag's parsing in plain words, naming the
// flag and what it takes:
//
//	--port "x": must be a whole number
//	--idle-timeout needs a value: a duration such as 500ms, 90s, 5m or 1h30m
//
// instead of `invalid argument "x" for "--port" flag: strconv.ParseInt:
// parsing "x": invalid syntax`. A custom flag.Value's own error is kept
// (after the flag and the value) unless it comes from strconv or
// time.ParseDuration. Other errors (an unknown flag, bad syntax) already
// say what is wrong and are returned as they are. It is meant for
// cobra.Command.SetFlagErrorFunc.
func FlagError(err error) error {
	var inv *pflag.InvalidValueError
	var req *pflag.ValueRequiredError
	switch {
	case errors.As(err, &inv):
		f := inv.GetFlag()
		return &flagError{fmt.Sprintf("--%s %q: %s", f.Name, inv.GetValue(), problem(f, inv.Unwrap())), err}
	case errors.As(err, &req):
		msg := "--" + req.GetFlag().Name + " needs a value"
		if want := expected(req.GetFlag().Value.Type()); want != "" {
			msg += ": " + want
		}
		return &flagError{msg, err}
	}
	return err
}

// problem says what is wrong with a flag's value, given Set's error.
func problem(f *pflag.Flag, cause error) string {
	typ := f.Value.Type()
	var num *strconv.NumError
	isNum := errors.As(cause, &num)
	if isNum && errors.Is(num.Err, strconv.ErrRange) {
		if lo, hi, ok := bounds(typ); ok {
			return fmt.Sprintf("must be a whole number from %s to %s", lo, hi)
		}
	}
	want := expected(typ)
	if want != "" && (isNum || cause == nil || strings.Contains(cause.Error(), "time: ")) {
		return "must be " + want
	}
	if cause == nil {
		return "invalid value"
	}
	return cause.Error()
}

// expected says in words what a flag of a pflag type takes ("" for types
// whose Set explains its own errors).
func expected(typ string) string {
	switch typ {
	case "int", "int8", "int16", "int32", "int64":
		return "a whole number"
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number, 0 or more"
	case "float32", "float64":
		return "a number"
	case "duration":
		return "a duration such as 500ms, 90s, 5m or 1h30m"
	case "bool":
		return "true or false"
	case "min:max":
		// internal/validate's ranges.
		return "MIN:MAX or a single value"
	}
	return ""
}

// bounds are the least and greatest values of an integer pflag type.
func bounds(typ string) (lo, hi string, ok bool) {
	signed := map[string]int64{"int8": math.MaxInt8, "int16": math.MaxInt16, "int32": math.MaxInt32,
		"int64": math.MaxInt64, "int": math.MaxInt}
	unsigned := map[string]uint64{"uint8": math.MaxUint8, "uint16": math.MaxUint16, "uint32": math.MaxUint32,
		"uint64": math.MaxUint64, "uint": math.MaxUint}
	if m, ok := signed[typ]; ok {
		return strconv.FormatInt(-m-1, 10), strconv.FormatInt(m, 10), true
	}
	if m, ok := unsigned[typ]; ok {
		return "0", strconv.FormatUint(m, 10), true
	}
	return "", "", false
}
