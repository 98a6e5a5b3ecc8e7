-- response-time-cdf per day from the daily rollups: each quantile is the midpoint of the bin holding the exact one (within 0.8 %).
WITH r AS (
  SELECT ts, bin, n FROM rollup_hist
  WHERE CAST($server AS VARCHAR) IS NULL AND CAST($port AS INTEGER) IS NULL AND server_ip IS NULL
    AND kind = 'rt'
  UNION ALL
  SELECT ts, bin, n FROM rollup_hist
  WHERE (CAST($server AS VARCHAR) IS NOT NULL OR CAST($port AS INTEGER) IS NOT NULL) AND server_ip IS NOT NULL
    AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
    AND kind = 'rt'
), h AS (
  SELECT ts AS period, bin, sum(n) AS n FROM r GROUP BY ALL
), c AS (
  SELECT *, sum(n) OVER (PARTITION BY period ORDER BY bin) AS cum, sum(n) OVER (PARTITION BY period) AS total
  FROM h
), k AS (
  SELECT unnest(range(1, 41)) AS k
), q AS (
  -- nearest rank: the first bin whose cumulative count reaches ceil(k/40 * total)
  SELECT period, k, any_value(total) AS total, abt_bin_mid(min(bin) FILTER (WHERE cum * 40 >= total * k)) AS v
  FROM c, k
  GROUP BY period, k
)
SELECT period, any_value(total) AS response_times, list(round(v / 1000, 3) ORDER BY k) AS quantiles_ms
FROM q
GROUP BY period
ORDER BY period
