-- Response-time quantiles per server (a request's think time when the server's data ended it), busiest first.
SELECT server_ip, server_port, count(*) AS exchanges,
  round(quantile_cont(response_time_us, 0.25) / 1000, 3) AS p25_ms,
  round(quantile_cont(response_time_us, 0.5) / 1000, 3) AS p50_ms,
  round(quantile_cont(response_time_us, 0.9) / 1000, 3) AS p90_ms,
  round(quantile_cont(response_time_us, 0.99) / 1000, 3) AS p99_ms,
  round(max(response_time_us) / 1000, 3) AS max_ms
FROM (SELECT server_ip, server_port, think_us AS response_time_us FROM adus
  WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND ts >= $from AND ts < $to
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port))
WHERE response_time_us IS NOT NULL
GROUP BY server_ip, server_port
ORDER BY exchanges DESC, server_ip, server_port
LIMIT coalesce(CAST($limit AS INTEGER), 20)
