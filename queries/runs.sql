-- The run log: each run's collection, first and last packet, duration and the outage before it (seconds), bytes written, packets, packets the live capture dropped (loss; empty for files), ADUs, connections, status.
SELECT sensor, run_id, collection, first_packet AS begin, last_packet AS "end", duration_s, outage_s,
  bytes_written, packets, drops, adus, connections, status
FROM runs
ORDER BY sensor, begin NULLS LAST, run_id
