-- Collections (the paper's Table 3): per sensor, each series of runs that follow each other in packet time, with its span, duration, outages (how many, and their total in seconds), bytes written, packets, packets live capture dropped (loss; empty when every run read files), ADUs, connections.
SELECT sensor, collection, min(first_packet) AS begin, max(last_packet) AS "end",
  ((epoch_us(max(last_packet)) - epoch_us(min(first_packet))) / 1e6)::DECIMAL(18,6) AS duration_s,
  count(*) AS runs,
  count(*) FILTER (WHERE outage_s > 0) AS outages,
  coalesce(sum(outage_s), 0) AS outage_s,
  sum(bytes_written) AS bytes_written, sum(packets) AS packets, sum(drops) AS drops, sum(adus) AS adus, sum(connections) AS connections
FROM runs
WHERE collection IS NOT NULL
GROUP BY sensor, collection
ORDER BY sensor, collection
