// Package failpoint kills the process at named points of the code, so that
// tests can show what a crash at exactly that point leaves behind. A test
// arms points through the environment of the process it starts:
//
//	ABT_FAILPOINTS=commit-after-state adu2parquet --replace ...
//
// and the process dies with SIGKILL when it reaches one of them. Unarmed,
// a point costs a nil-slice check. (A build tag would keep the points out
// of release binaries, but building DuckDB's cgo bindings a second time
// for the tests costs minutes; the environment variable can only do what
// whoever sets it could do anyway: kill the process.)
package failpoint

// EnvVar is the environment variable that lists the armed points, comma
// separated.
const EnvVar = "ABT_FAILPOINTS"
