-- adu-sizes from the daily rollups (same result as from the ADU rows).
WITH r AS (
  SELECT kind, bin, n FROM rollup_hist
  WHERE CAST($server AS VARCHAR) IS NULL AND CAST($port AS INTEGER) IS NULL AND server_ip IS NULL
    AND kind IN ('c2s', 's2c')
  UNION ALL
  SELECT kind, bin, n FROM rollup_hist
  WHERE (CAST($server AS VARCHAR) IS NOT NULL OR CAST($port AS INTEGER) IS NOT NULL) AND server_ip IS NOT NULL
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
    AND kind IN ('c2s', 's2c')
), h AS (
  SELECT kind AS direction, bin, sum(n) AS adus
  FROM r
  WHERE CAST($direction AS VARCHAR) IS NULL OR kind = $direction
  GROUP BY ALL
)
SELECT direction, abt_bin_low(bin) AS size, abt_bin_high(bin) AS size_max, adus,
  sum(adus) OVER (PARTITION BY direction ORDER BY bin) / sum(adus) OVER (PARTITION BY direction) AS cdf
FROM h
ORDER BY direction, bin
