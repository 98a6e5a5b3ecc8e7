-- The collection log (the paper's Table 3): each run's span, duration, the outage before it, size, records, ADUs, connections.
SELECT sensor, run_id, first_packet AS begin, last_packet AS "end",
  last_packet - first_packet AS duration,
  first_packet - lag(last_packet) OVER (PARTITION BY sensor ORDER BY first_packet) AS outage,
  bytes_written, packets, adus, connections, status
FROM runs
ORDER BY sensor, begin
