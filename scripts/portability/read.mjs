// read.mjs ARCHIVE - reads an abt archive with three engines other than
// abtq and prints, as JSON, what each finds: per table the rows, the
// columns' types and a few sums; and, with DuckDB, the canned query
// adu-sizes run over queries/archive/*.sql. The portability test
// (cmd/abtq/portability_test.go) compares it with abtq. The engines are
// read without options but Hive partitioning:
//   - DuckDB (@duckdb/node-api): read_parquet(..., hive_partitioning = true)
//   - Polars (nodejs-polars): scanParquet(..., {hivePartitioning: true})
//   - arrow-rs (parquet-wasm): each file on its own (it has no datasets)
import { DuckDBInstance } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { tableFromIPC } from 'apache-arrow';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const pw = createRequire(import.meta.url)('parquet-wasm/node');
const [archive, queriesDir] = process.argv.slice(2);
const tables = ['adus', 'connections', 'runs'];
const sums = { adus: ['size'], connections: ['c2s_bytes', 's2c_bytes'], runs: ['adus', 'connections'] };
const glob = (t) => `${archive}/${t}/*/*/*/*.parquet`;

function files(t) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.parquet') && !e.name.startsWith('.')) out.push(join(d, e.name));
    }
  };
  walk(join(archive, t));
  return out.sort();
}

const result = { engines: { duckdb: {}, polars: {}, 'arrow-rs': {} }, canned: {} };

// DuckDB
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
for (const t of tables) {
  const src = `read_parquet('${glob(t)}', hive_partitioning = true)`;
  const cols = {};
  for (const [name, type] of (await con.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${src})`)).getRows()) {
    cols[name] = type;
  }
  const sel = sums[t].map((c) => `sum(${c})::VARCHAR`).join(', ');
  const [row] = (await con.runAndReadAll(`SELECT count(*)::VARCHAR, ${sel} FROM ${src}`)).getRows();
  result.engines.duckdb[t] = { rows: row[0], columns: cols, sums: Object.fromEntries(sums[t].map((c, i) => [c, row[i + 1]])) };
}

// The canned query through the archive's own SQL, as any DuckDB client.
const statements = (name) => {
  const out = [];
  let cur = [], code = false;
  for (const line of readFileSync(join(queriesDir, 'archive', name + '.sql'), 'utf8').split('\n')) {
    const t = line.trim();
    if (t !== '' && !t.startsWith('--')) code = true;
    if (code && line.trimEnd().endsWith(';')) {
      out.push([...cur, line.trimEnd().slice(0, -1)].join('\n'));
      cur = []; code = false;
    } else cur.push(line);
  }
  return out;
};
await con.run(`SET VARIABLE abt_archive = '${archive.replaceAll("'", "''")}'`);
for (const f of ['files', 'macros', 'views']) for (const s of statements(f)) await con.run(s);
const canned = readFileSync(join(queriesDir, 'adu-sizes.sql'), 'utf8');
const prepared = await con.prepare(canned);
for (const p of ['server', 'port', 'direction']) prepared.bindNull(prepared.parameterIndex(p));
result.canned['adu-sizes'] = (await prepared.runAndReadAll()).getRows().map((r) => r.map((v) => (typeof v === 'bigint' ? v.toString() : v)));

// Polars
for (const t of tables) {
  const df = pl.scanParquet(`${archive}/${t}/**/*.parquet`, { hivePartitioning: true }).collectSync();
  const cols = {};
  for (const [name, type] of Object.entries(df.schema)) cols[name] = type.toString();
  result.engines.polars[t] = {
    rows: String(df.height), columns: cols,
    sums: Object.fromEntries(sums[t].map((c) => [c, String(df.getColumn(c).sum())])),
  };
}

// arrow-rs, file by file
for (const t of tables) {
  let rows = 0n;
  const acc = Object.fromEntries(sums[t].map((c) => [c, 0n]));
  let cols = null;
  for (const f of files(t)) {
    const table = tableFromIPC(pw.readParquet(new Uint8Array(readFileSync(f))).intoIPCStream());
    rows += BigInt(table.numRows);
    cols ??= Object.fromEntries(table.schema.fields.map((x) => [x.name, String(x.type)]));
    for (const c of sums[t]) for (const v of table.getChild(c)) acc[c] += BigInt(v);
  }
  result.engines['arrow-rs'][t] = { rows: String(rows), columns: cols, sums: Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, String(v)])) };
}

console.log(JSON.stringify(result, null, 1));
