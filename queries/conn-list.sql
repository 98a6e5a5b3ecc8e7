-- Drill-down: the connections of one bucket of conn-buckets (same --by, --bucket-size, --buckets), with their endpoints.
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
SELECT ts, client_ip, client_port, server_ip, server_port, duration_s,
  bytes_in, bytes_out, exchanges, syn_attempts, end_reason
FROM v
WHERE least(floor(x / CAST($bucket_size AS DOUBLE)), CAST($buckets AS INTEGER) - 1) = CAST($bucket AS INTEGER)
ORDER BY ts, client_ip, client_port
LIMIT coalesce(CAST($limit AS INTEGER), 100)
