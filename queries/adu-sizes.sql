-- CDF of ADU sizes per direction (the paper's Fig. 4a), optionally for one server and port.
SELECT direction, size, count(*) AS adus,
  sum(count(*)) OVER (PARTITION BY direction ORDER BY size) / sum(count(*)) OVER (PARTITION BY direction) AS cdf
FROM adus
WHERE ts >= $from AND ts < $to
  AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
  AND (CAST($direction AS VARCHAR) IS NULL OR direction = $direction)
GROUP BY direction, size
ORDER BY ALL
