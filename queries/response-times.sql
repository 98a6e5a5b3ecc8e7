-- Response-time quantiles per server (the request's think time in sequential connections), busiest first.
SELECT server_ip, server_port, count(*) AS exchanges,
  round(quantile_cont(response_time_us, 0.25) / 1000, 3) AS p25_ms,
  round(quantile_cont(response_time_us, 0.5) / 1000, 3) AS p50_ms,
  round(quantile_cont(response_time_us, 0.9) / 1000, 3) AS p90_ms,
  round(quantile_cont(response_time_us, 0.99) / 1000, 3) AS p99_ms,
  round(max(response_time_us) / 1000, 3) AS max_ms
FROM exchanges
WHERE request_time >= $from AND request_time < $to AND response_time_us IS NOT NULL
  AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
GROUP BY server_ip, server_port
ORDER BY exchanges DESC, server_ip, server_port
LIMIT coalesce(CAST($limit AS INTEGER), 20)
