package cli

// Interrupted is the error of a program stopped by a signal (exit status
// 130). Its message says what the program kept, where "context canceled"
// would say nothing of it.
type Interrupted struct {
	// Kept says what was kept (published, written, left as it was); ""
	// when another error makes it unknown.
	Kept string
	// Err is the cause: context.Canceled, or errors joined with it.
	Err error
}

// Error is "interrupted: " and Kept.
func (e *Interrupted) Error() string {
	if e.Kept == "" {
		return "interrupted"
	}
	return "interrupted: " + e.Kept
}

// Unwrap returns Err.
func (e *Interrupted) Unwrap() error { return e.Err }
