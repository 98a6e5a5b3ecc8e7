-- CDF of ADU sizes per direction (the paper's Fig. 4a) in bins of 1/64 octave (exact below 128 bytes; size..size_max), optionally for one server and port.
WITH h AS (
  SELECT direction, abt_bin(size) AS bin, count(*) AS adus
  FROM adus
  WHERE (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
    AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
    AND (CAST($direction AS VARCHAR) IS NULL OR direction = $direction)
  GROUP BY ALL
)
SELECT direction, abt_bin_low(bin) AS size, abt_bin_high(bin) AS size_max, adus,
  sum(adus) OVER (PARTITION BY direction ORDER BY bin) / sum(adus) OVER (PARTITION BY direction) AS cdf
FROM h
ORDER BY direction, bin
