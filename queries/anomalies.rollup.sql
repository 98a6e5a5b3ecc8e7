-- anomalies: response-time histograms per server and day, from the daily rollups, for abtq anomalies.
SELECT server_ip, server_port, ts AS period, bin, sum(n) AS n
FROM rollup_hist
WHERE kind = 'rt' AND server_ip IS NOT NULL
  AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
GROUP BY ALL
ORDER BY server_ip, server_port, period, bin
