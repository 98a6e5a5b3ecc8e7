-- CCDF of exchanges (a-b-t epochs) per connection over sequential connections that carried data (the paper's Fig. 4b): the share of connections with at least that many.
SELECT exchanges, count(*) AS connections,
  (sum(count(*)) OVER () - sum(count(*)) OVER (ORDER BY exchanges) + count(*)) / sum(count(*)) OVER () AS ccdf
FROM connections
WHERE NOT concurrent AND c2s_adus + s2c_adus > 0
  AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
GROUP BY exchanges
ORDER BY ALL
