-- Connections bucketed by duration, bytes or throughput (yconalyzer): --by {duration|bytes_in|bytes_out|throughput}, --bucket-size, --buckets, --min-bytes.
WITH c AS (
  SELECT *, c2s_unique_bytes AS bytes_in, s2c_unique_bytes AS bytes_out,
    CASE WHEN end_us > 0 THEN (c2s_unique_bytes + s2c_unique_bytes) * 8 / (end_us / 1e6) END AS throughput_bps
  FROM connections
  WHERE (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
    AND c2s_unique_bytes + s2c_unique_bytes >= coalesce(CAST($min_bytes AS BIGINT), 0)
), v AS (
  SELECT CASE CAST($by AS VARCHAR)
      WHEN 'bytes_in' THEN bytes_in WHEN 'bytes_out' THEN bytes_out WHEN 'throughput' THEN throughput_bps
      ELSE duration_s END AS x, *
  FROM c
)
SELECT least(floor(x / CAST($bucket_size AS DOUBLE)), CAST($buckets AS INTEGER) - 1) AS bucket,
  least(floor(x / CAST($bucket_size AS DOUBLE)), CAST($buckets AS INTEGER) - 1) * CAST($bucket_size AS DOUBLE) AS lower_bound,
  count(*) AS connections, sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out,
  count(*) FILTER (WHERE c2s_rst OR s2c_rst) AS rst,
  round(avg(syn_attempts), 3) AS avg_syn_attempts
FROM v WHERE x IS NOT NULL
GROUP BY ALL ORDER BY bucket
