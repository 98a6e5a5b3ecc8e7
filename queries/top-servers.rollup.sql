-- top-servers from the daily rollups: counts and sums exact, the median RTT the midpoint of its bin (within 0.8 %).
WITH h AS (
  SELECT server_ip, server_port, kind, bin, sum(n) AS n
  FROM rollup_hist
  WHERE server_ip IS NOT NULL AND kind IN ('conns', 'bytes_in', 'bytes_out', 'exchanges', 'rst', 'rtt')
   
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
  GROUP BY ALL
), s AS (
  SELECT server_ip, server_port,
    sum(n) FILTER (WHERE kind = 'conns') AS connections,
    sum(n) FILTER (WHERE kind = 'bytes_in') AS bytes_in,
    sum(n) FILTER (WHERE kind = 'bytes_out') AS bytes_out,
    sum(n) FILTER (WHERE kind = 'exchanges') AS exchanges,
    sum(n) FILTER (WHERE kind = 'rst') AS rst
  FROM h
  GROUP BY ALL
), r AS (
  SELECT server_ip, server_port, bin,
    sum(n) OVER (PARTITION BY server_ip, server_port ORDER BY bin) AS cum,
    sum(n) OVER (PARTITION BY server_ip, server_port) AS total
  FROM h
  WHERE kind = 'rtt'
), m AS (
  -- nearest rank: the first bin whose cumulative count reaches ceil(total / 2)
  SELECT server_ip, server_port, abt_bin_mid(min(bin) FILTER (WHERE cum * 2 >= total)) AS rtt_p50_us
  FROM r
  GROUP BY ALL
)
SELECT s.server_ip, s.server_port, connections, bytes_in, bytes_out, exchanges, rst,
  round(m.rtt_p50_us / 1000, 3) AS rtt_p50_ms
FROM s LEFT JOIN m USING (server_ip, server_port)
ORDER BY connections DESC, server_ip, server_port
LIMIT coalesce(CAST($limit AS INTEGER), 20)
