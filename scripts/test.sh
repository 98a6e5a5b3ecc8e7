#!/usr/bin/env bash
# test.sh - the project's test command (README; .ci/run calls it).
#
# Runs gofmt and go vet, the whole test suite, then each fuzz target for a
# short time (FUZZTIME, default 10s; 0 skips fuzzing). The race detector
# runs on the packages whose goroutines share state (RACE_PKGS below: the
# pinning workers, the decompressors' read-ahead, Feed's packet reader,
# the archive's writer
# goroutine (archive.Async) and publishers (partition.Options.Background),
# the programs' signal
# handling and cancellable standard input), and not on the others, where it
# only multiplies the time of single-goroutine code; both sets run at once.
# Every test prints a line as it ends (gotestsum, a tool of go.mod), so a
# long package is never silent. Needs Go, and Node.js with npm for the
# portability test's other engines (scripts/portability.sh installs them,
# and Node.js from Debian when missing): DuckDB is embedded, and the
# captures and their tcptrace/tshark ground truth are committed under
# testdata/.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== other engines (npm: DuckDB, Polars, parquet-wasm), for TestPortability"
scripts/portability.sh

# Packages whose goroutines share state: tested with -race.
RACE_PKGS=(
	github.com/abt-dev/abt/internal/catalog
	github.com/abt-dev/abt/internal/capture
	github.com/abt-dev/abt/internal/capture/live
	github.com/abt-dev/abt/internal/metrics
	github.com/abt-dev/abt/internal/archive
	github.com/abt-dev/abt/internal/partition
	github.com/abt-dev/abt/internal/ingest
	github.com/abt-dev/abt/cmd/adu2parquet
	github.com/abt-dev/abt/cmd/abtq
)
others=()
for p in $(go list ./...); do
	case " ${RACE_PKGS[*]} " in
	*" $p "*) ;;
	*) others+=("$p") ;;
	esac
done

# A line per test and package as it ends; passing subtests are left out
# (failures, and their output, are all shown).
progress() { grep --line-buffered -v -E '^(PASS|SKIP) [^ ]+\.[A-Za-z0-9_]+/' || true; }

echo "== go test (-race on ${#RACE_PKGS[@]} packages, without on ${#others[@]})"
(go tool gotestsum --format testname --hide-summary=skipped -- -count=1 "${others[@]}" | progress; exit "${PIPESTATUS[0]}") &
plain=$!
race=0
(go tool gotestsum --format testname --hide-summary=skipped -- -race -count=1 "${RACE_PKGS[@]}" | progress; exit "${PIPESTATUS[0]}") || race=$?
status=0
wait "$plain" || status=$?
if [ "$race" -ne 0 ] || [ "$status" -ne 0 ]; then
	echo "tests failed" >&2
	exit 1
fi

# fuzz_one PKG NAME LOG: fuzzes one target for FUZZTIME with one worker,
# its output in LOG. Go 1.26's fuzzing coordinator can fail a target with
# a bare "context deadline exceeded" as -fuzztime runs out, having found
# nothing (go.dev/issue/75804, fixed in Go 1.27): only that is tried once
# more; a written failing input always fails.
fuzz_one() {
	local pkg=$1 name=$2 log=$3 try
	for try in 1 2; do
		if go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s -parallel 1 >"$log" 2>&1; then
			return 0
		fi
		if [ "$try" = 2 ] || grep -q 'Failing input written' "$log" || ! grep -q '^    context deadline exceeded$' "$log"; then
			return 1
		fi
		echo "== fuzz $name: the coordinator's deadline race (go.dev/issue/75804), no input found: once more"
	done
}

if [ "$FUZZTIME" != "0" ]; then
	fuzzdir=$(mktemp -d)
	trap 'rm -rf "$fuzzdir"' EXIT
	# Every fuzz target, briefly: decoders of outside input and the engine;
	# two at a time, one worker each.
	targets=(
		./internal/capture:FuzzOpenReader
		./internal/decode:FuzzDecode
		./internal/ingest:FuzzEngine
		./internal/ingest:FuzzIngest
		./internal/ingest:FuzzShardedSame
		./internal/adutext:FuzzReader
		./internal/capture/live:FuzzFilter
		./internal/partition:FuzzReadFooter
	)
	fuzzfail=0
	for ((i = 0; i < ${#targets[@]}; i += 2)); do
		pids=() names=()
		for t in "${targets[@]:i:2}"; do
			name=${t##*:}
			echo "== fuzz $name ($FUZZTIME)"
			fuzz_one "${t%%:*}" "$name" "$fuzzdir/$name.log" &
			pids+=($!) names+=("$name")
		done
		for k in "${!pids[@]}"; do
			if ! wait "${pids[$k]}"; then
				fuzzfail=1
				echo "== fuzz ${names[$k]} FAILED:"
			fi
			tail -n 3 "$fuzzdir/${names[$k]}.log"
		done
	done
	[ "$fuzzfail" = 0 ] || exit 1
fi
echo "== all tests passed"
