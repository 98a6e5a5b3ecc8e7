#!/usr/bin/env bash
# test.sh - the project's test command (README; .ci/run calls it).
#
# Runs go vet, the whole test suite with the race detector, then each fuzz
# target for a short time (FUZZTIME, default 10s; 0 skips fuzzing). Needs
# only Go: DuckDB is embedded, and the captures and their tcptrace/tshark
# ground truth are committed under testdata/.
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

echo "== go test -race"
go test -race -count=1 ./...

if [ "$FUZZTIME" != "0" ]; then
	# Every fuzz target, briefly: decoders of outside input and the engine.
	for target in \
		./internal/capture:FuzzOpenReader \
		./internal/decode:FuzzDecode \
		./internal/ingest:FuzzEngine \
		./internal/ingest:FuzzIngest \
		./internal/adutext:FuzzReader \
		./internal/partition:FuzzReadFooter; do
		pkg=${target%%:*}
		name=${target##*:}
		echo "== fuzz $name ($FUZZTIME)"
		go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s
	done
fi
echo "== all tests passed"
