package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Log formats of --log-format.
const (
	logPlain = "plain" // "adu2parquet: <sentence>" lines
	logText  = "text"  // log/slog's key=value records
	logJSON  = "json"  // log/slog's JSON records, one a line
)

// messages are what a run tells its operator on standard error, besides
// progress: plain lines, or with --log-format text or json one log/slog
// record each, the sentence as msg and its figures as attributes.
type messages struct {
	w      io.Writer
	log    *slog.Logger // nil: plain lines
	before func()       // called before each message (clears a progress line)
}

func newMessages(w io.Writer, format string, before func()) *messages {
	m := &messages{w: w, before: before}
	switch format {
	case logText:
		m.log = slog.New(slog.NewTextHandler(w, nil))
	case logJSON:
		m.log = slog.New(slog.NewJSONHandler(w, nil))
	}
	return m
}

// say writes sentence (at level) with attrs (slog's key, value pairs).
func (m *messages) say(level slog.Level, sentence string, attrs ...any) {
	if m.before != nil {
		m.before()
	}
	if m.log != nil {
		m.log.Log(context.Background(), level, sentence, attrs...)
		return
	}
	fmt.Fprintf(m.w, "adu2parquet: %s\n", sentence)
}

// structured reports whether messages are log records.
func (m *messages) structured() bool { return m.log != nil }

// loggedError is an error already written as a log record: the program
// exits with its status without printing it again.
type loggedError struct{ err error }

func (e *loggedError) Error() string { return e.err.Error() }
func (e *loggedError) Unwrap() error { return e.err }

// logged writes err as an error record and returns it marked as written,
// when messages are structured; otherwise err.
func (m *messages) logged(err error) error {
	if err == nil || m.log == nil {
		return err
	}
	var le *loggedError
	if errors.As(err, &le) {
		return err
	}
	m.log.Error("run failed", "error", err.Error())
	return &loggedError{err}
}
