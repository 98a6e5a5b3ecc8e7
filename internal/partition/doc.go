// Package partition writes rows into an hourly-partitioned Parquet archive
// and keeps it readable at every instant.
//
// Layout (Hive style, UTC):
//
//	<root>/<table>/sensor=<sensor>/date=YYYY-MM-DD/hour=H/part-<run>-<seq>.parquet
//
// hour=H is the hour without a leading zero (0 to 23), which every engine
// infers as an integer. Archives written before had hour=HH (07): their
// directories stay in use until Relayout renames them (see Dir).
//
// A row's hour is the hour of its partition timestamp (the caller says
// which column that is). Within a file rows are sorted by the configured
// columns and cut into row groups of a configured size, zstd-compressed, with
// column statistics, so that an engine reading the files (DuckDB, Spark,
// Trino) can skip files by path and row groups by statistics.
//
// Crash safety: a part is written under a hidden temporary name
// (".part-<run>-<seq>.parquet.tmp", which no "*.parquet" glob matches),
// synced, renamed into place and its directory synced: a reader sees a whole
// file or nothing. Published files are never modified; rows that arrive for
// an hour already published go to a new part file of that hour. Compact
// merges an hour's parts into one file and swaps it in atomically.
//
// Until its part is published a row waits in a compact form the table
// defines (Rows: fixed-size, without pointers), in memory up to SortBytes
// per part and beyond that in sorted chunks spilled to disk as raw bytes;
// it becomes a row of the table's type only as the file is written.
//
// What it does not do: decide what a row contains (package archive), or
// which runs are complete (the archive's journal).
package partition
