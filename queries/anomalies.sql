-- anomalies: response-time histograms per server and period (day or hour), from the ADU rows, for abtq anomalies.
-- A response time is the think time of a request of a sequential connection that the server's data ended (the response_times view; read from the adus alone, as response-times does).
-- A period with fewer than $min_samples response times is one row with a NULL bin and its count: it is not scored, and its bins are not read out.
WITH r AS (
  SELECT server_ip, server_port, date_trunc(CAST($period AS VARCHAR), ts) AS period, think_us
  FROM adus
  WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND think_us IS NOT NULL
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
), c AS (
  SELECT server_ip, server_port, period, count(*) AS total FROM r GROUP BY ALL
)
SELECT r.server_ip, r.server_port, r.period, abt_bin(r.think_us) AS bin, count(*) AS n
FROM r SEMI JOIN (SELECT * FROM c WHERE total >= $min_samples) d
  ON r.server_ip = d.server_ip AND r.server_port = d.server_port AND r.period = d.period
GROUP BY ALL
UNION ALL
SELECT server_ip, server_port, period, NULL, total FROM c WHERE total < $min_samples
ORDER BY server_ip, server_port, period, bin NULLS FIRST
