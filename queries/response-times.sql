-- Response-time quantiles per server and port (a response time: the think time of a request that the server's data ended), busiest first: response_times measured, nearest-rank p25, p50, p90, p99 and maximum in ms.
SELECT server_ip, server_port, response_times,
  round(q[1] / 1000, 3) AS p25_ms, round(q[2] / 1000, 3) AS p50_ms,
  round(q[3] / 1000, 3) AS p90_ms, round(q[4] / 1000, 3) AS p99_ms,
  round(longest / 1000, 3) AS max_ms
FROM (
  SELECT server_ip, server_port, count(*) AS response_times,
    quantile_disc(think_us, [0.25, 0.5, 0.9, 0.99]) AS q, max(think_us) AS longest
  FROM adus
  WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND think_us IS NOT NULL
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
  GROUP BY server_ip, server_port
)
ORDER BY response_times DESC, server_ip, server_port
LIMIT coalesce(CAST($limit AS INTEGER), 20)
