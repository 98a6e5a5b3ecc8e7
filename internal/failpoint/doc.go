// Package failpoint kills the process at named points of the code, so that
// tests can show what a crash at exactly that point leaves behind. Points
// exist only in binaries built with the "failpoints" build tag
// (go build -tags failpoints); elsewhere Inject is an empty function.
//
// A test arms points through the environment:
//
//	ABT_FAILPOINTS=commit-after-state adu2parquet --replace ...
//
// and the process dies with SIGKILL when it reaches one of them.
package failpoint

// EnvVar is the environment variable that lists the armed points, comma
// separated.
const EnvVar = "ABT_FAILPOINTS"
