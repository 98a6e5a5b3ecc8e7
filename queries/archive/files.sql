-- An abt archive's tables for a DuckDB client other than abtq: every row
-- of the adus, connections and runs files under the directory in the
-- variable abt_archive, for views.sql (and macros.sql) to read. With the
-- DuckDB command-line client, from the repository's queries/ directory:
--
--   SET VARIABLE abt_archive = '/data/abt';
--   .read archive/files.sql
--   .read archive/macros.sql
--   .read archive/views.sql
--
-- then any canned query (its parameters, $server and the like, bound or
-- replaced by NULL for "no filter") gives abtq's answer over the whole
-- archive. What abtq does besides: it reads the files of a time range only,
-- holds them while writers work, and leaves out the rows of a replaced run
-- while a replacement is being finished (docs/reliability.md).
--
-- Each statement ends with a semicolon at the end of its line.

CREATE OR REPLACE VIEW abt_adus_files AS
SELECT * FROM read_parquet(getvariable('abt_archive') || '/adus/*/*/*/*.parquet',
  hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER});

CREATE OR REPLACE VIEW abt_connections_files AS
SELECT * FROM read_parquet(getvariable('abt_archive') || '/connections/*/*/*/*.parquet',
  hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER});

-- Columns added to the runs table after its schema froze (hours) are
-- missing from the files written before: union_by_name reads them as null.
CREATE OR REPLACE VIEW abt_runs_files AS
SELECT * FROM read_parquet(getvariable('abt_archive') || '/runs/*/*/*/*.parquet',
  hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER}, union_by_name = true);

CREATE OR REPLACE MACRO abt_in_range(t) AS true;
