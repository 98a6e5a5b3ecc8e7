-- response-times from the daily rollups: each quantile is the midpoint of the bin holding the exact one (within 0.8 %).
WITH h AS (
  SELECT server_ip, server_port, bin, sum(n) AS n
  FROM rollup_hist
  WHERE kind = 'rt' AND server_ip IS NOT NULL
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
  GROUP BY ALL
), c AS (
  SELECT *, sum(n) OVER (PARTITION BY server_ip, server_port ORDER BY bin) AS cum,
    sum(n) OVER (PARTITION BY server_ip, server_port) AS total
  FROM h
)
SELECT server_ip, server_port, any_value(total) AS response_times,
  -- nearest rank: the first bin whose cumulative count reaches ceil(q * total)
  round(abt_bin_mid(min(bin) FILTER (WHERE cum * 100 >= total * 25)) / 1000, 3) AS p25_ms,
  round(abt_bin_mid(min(bin) FILTER (WHERE cum * 100 >= total * 50)) / 1000, 3) AS p50_ms,
  round(abt_bin_mid(min(bin) FILTER (WHERE cum * 100 >= total * 90)) / 1000, 3) AS p90_ms,
  round(abt_bin_mid(min(bin) FILTER (WHERE cum * 100 >= total * 99)) / 1000, 3) AS p99_ms,
  round(abt_bin_mid(max(bin)) / 1000, 3) AS max_ms
FROM c
GROUP BY server_ip, server_port
ORDER BY response_times DESC, server_ip, server_port
LIMIT coalesce(CAST($limit AS INTEGER), 20)
