-- abt's views of an archive, for any DuckDB client (abtq runs this file).
-- They read the relations abt_adus_files, abt_connections_files and
-- abt_runs_files (every row of the tables' files) and keep the rows whose
-- ts abt_in_range(ts) accepts: files.sql defines these over an archive's
-- directory; abtq over the files of the time range it was given.
--
--   adus            the adus table, with start_time, end_time, decided_time
--   response_times  one row per response time measured (a sequential
--                   request whose think time the server's data ended), with
--                   the response that ended it
--   vectors         each connection's ADUs in order: its a-b-t vector
--   connections     the connections table, with absolute times, duration_s
--   runs            the run log, with each run's collection, duration and
--                   the outage before it (docs/queries.md, "runs")
--
-- Each statement ends with a semicolon at the end of its line.

CREATE OR REPLACE VIEW adus AS
SELECT *,
  CASE WHEN duration_us IS NOT NULL THEN ts END AS start_time,
  CASE WHEN duration_us IS NOT NULL THEN ts + to_microseconds(duration_us)
       WHEN think_us IS NOT NULL THEN ts + to_microseconds(decided_lag_us) END AS end_time,
  ts + to_microseconds(coalesce(duration_us, 0) + coalesce(think_us, 0) + decided_lag_us) AS decided_time
FROM abt_adus_files
WHERE abt_in_range(ts);

-- The request is in the range; its response is looked up in every file
-- read, since it may begin after the range ends (and is NULL when it lies
-- in an hour after the range's last). The response side is a CTE: in the
-- join itself DuckDB would bind read_parquet's hive_types DATE to the
-- request's column date. Saying that the server is the connection's lets
-- a server filter prune both sides of the join.
CREATE OR REPLACE VIEW response_times AS
WITH response AS (SELECT * FROM abt_adus_files)
SELECT q.sensor, q.run_id, q.conn_id, q.server_ip, q.server_port, q.client_ip, q.client_port,
  q.ordinal, q.ts AS request_time, q.size AS request_bytes, q.think_us AS response_time_us,
  r.size AS response_bytes, r.think_us AS client_think_us
FROM adus q LEFT JOIN response r
  ON r.sensor = q.sensor AND r.run_id = q.run_id AND r.conn_id = q.conn_id AND r.ordinal = q.ordinal + 1
  AND r.server_ip = q.server_ip AND r.server_port = q.server_port AND r.direction = 's2c'
WHERE q.direction = 'c2s' AND q.think_to_peer AND NOT q.concurrent AND q.think_us IS NOT NULL;

-- A connection that crosses an end of the range has only the ADUs inside
-- it.
CREATE OR REPLACE VIEW vectors AS
SELECT sensor, run_id, conn_id, server_ip, server_port, client_ip, client_port, min(ts) AS ts,
  bool_or(concurrent) AS concurrent,
  list(struct_pack(ordinal, direction, size, think_us) ORDER BY ordinal) AS adus
FROM adus GROUP BY sensor, run_id, conn_id, server_ip, server_port, client_ip, client_port;

-- Seconds derived from µs are DECIMAL(18,6), so that they print as the µs
-- they are.
CREATE OR REPLACE VIEW connections AS
SELECT *,
  ts + to_microseconds(syn_us) AS syn_time,
  ts + to_microseconds(established_us) AS established_time,
  ts + to_microseconds(last_us) AS last_time,
  ts + to_microseconds(end_us) AS end_time,
  ((end_us) / 1e6)::DECIMAL(18,6) AS duration_s
FROM abt_connections_files
WHERE abt_in_range(ts);

-- The runs files, with the columns added to the table after its schema
-- froze (hours), null in the files written before (read with
-- union_by_name, they lack the column; when no file has it, this gives it).
CREATE OR REPLACE VIEW abt_runs_all AS
SELECT * FROM abt_runs_files
UNION ALL BY NAME
SELECT NULL::STRUCT(hour TIMESTAMP, packets BIGINT, drops BIGINT, interface_drops BIGINT)[] AS hours WHERE false;

-- A collection is a series of one sensor's runs that follow each other in
-- packet time: in the order of their first packets, a run continues the
-- collection of the run before it when it begins at or after the last
-- packet of every earlier run, and the time between is an outage (zero
-- when it begins at that very packet). A run that begins before an earlier
-- run ended (one that overlaps it, such as a capture converted into the
-- sensor's archive whose packets span the others') begins a new collection
-- and has no outage: an outage is never negative. Runs that read no TCP
-- segment (no first packet) belong to no collection. Collections are
-- numbered per sensor from 1, over the runs in the range.
CREATE OR REPLACE VIEW runs AS
SELECT * EXCLUDE (prior_end),
  CASE WHEN first_packet IS NOT NULL THEN
    sum(CASE WHEN first_packet >= prior_end THEN 0 ELSE 1 END) OVER (
      PARTITION BY sensor, first_packet IS NULL ORDER BY first_packet, last_packet, run_id
      ROWS UNBOUNDED PRECEDING)::INTEGER END AS collection,
  ((epoch_us(last_packet) - epoch_us(first_packet)) / 1e6)::DECIMAL(18,6) AS duration_s,
  CASE WHEN first_packet >= prior_end THEN ((epoch_us(first_packet) - epoch_us(prior_end)) / 1e6)::DECIMAL(18,6) END AS outage_s
FROM (
  SELECT *,
    -- the end of the sensor's packet time so far: the last packet of every
    -- run that began before this one
    max(last_packet) OVER (
      PARTITION BY sensor, first_packet IS NULL ORDER BY first_packet, last_packet, run_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_end
  FROM abt_runs_all
  WHERE abt_in_range(ts)
);
