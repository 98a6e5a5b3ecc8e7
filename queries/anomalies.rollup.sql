-- anomalies: response-time histograms per server and day, from the daily rollups, for abtq anomalies.
-- A day with fewer than $min_samples response times is one row with a NULL bin and its count: it is not scored.
WITH h AS (
  SELECT server_ip, server_port, ts AS period, bin, sum(n) AS n
  FROM rollup_hist
  WHERE kind = 'rt' AND server_ip IS NOT NULL
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
  GROUP BY ALL
), t AS (
  SELECT *, sum(n) OVER (PARTITION BY server_ip, server_port, period) AS total FROM h
)
SELECT server_ip, server_port, period, bin, n FROM t WHERE total >= $min_samples
UNION ALL
SELECT server_ip, server_port, period, NULL, any_value(total) FROM t WHERE total < $min_samples GROUP BY ALL
ORDER BY server_ip, server_port, period, bin NULLS FIRST
