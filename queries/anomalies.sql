-- anomalies: response-time histograms per server and period (day or hour), from the ADU rows, for abtq anomalies.
-- A response time is the think time of a request of a sequential connection that the server's data ended (the response_times view; read from the adus alone, as response-times does).
SELECT server_ip, server_port, date_trunc(CAST($period AS VARCHAR), ts) AS period, abt_bin(think_us) AS bin, count(*) AS n
FROM adus
WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND think_us IS NOT NULL
  AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
GROUP BY ALL
ORDER BY server_ip, server_port, period, bin
