#!/usr/bin/env bash
# portability.sh - installs the engines the portability test reads the
# archive with (cmd/abtq TestPortability): DuckDB (@duckdb/node-api), Polars
# (nodejs-polars) and arrow-rs (parquet-wasm), from npm, at the versions
# scripts/portability/package.json pins, into scripts/portability/node_modules
# (without a lock file: npm's drops the platforms' optional Polars binaries,
# and then refuses itself). Node.js and npm come from Debian when
# missing (scripts/install-tools.sh). Idempotent: nothing is fetched when
# the installed packages are package.json's. scripts/test.sh runs it before
# the tests; with CI set the test fails rather than skips without them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/portability"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	../install-tools.sh nodejs npm
fi
major=$(node --version | sed 's/^v\([0-9]*\).*/\1/')
if [ "$major" -lt 20 ]; then
	# nodejs-polars needs 20 (its linux-x64 binary says 22, and runs on 20).
	echo "portability.sh: node $(node --version): 20 or later needed" >&2
	exit 1
fi
stamp=node_modules/.abt-package-sha256
want=$(sha256sum package.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
rm -rf node_modules
npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" >"$stamp"
echo "portability.sh: DuckDB, Polars and parquet-wasm installed in scripts/portability/node_modules" >&2
