-- Servers by connections, with bytes each way, exchanges (a-b-t epochs), connections with a RST and median (nearest-rank) SYN-ACK RTT.
SELECT server_ip, server_port, count(*) AS connections,
  sum(c2s_unique_bytes) AS bytes_in, sum(s2c_unique_bytes) AS bytes_out,
  sum(exchanges) AS exchanges,
  count(*) FILTER (WHERE c2s_rst OR s2c_rst) AS rst,
  round(quantile_disc(rtt_us, 0.5) / 1000, 3) AS rtt_p50_ms
FROM connections
WHERE (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
GROUP BY server_ip, server_port
ORDER BY connections DESC, server_ip, server_port
LIMIT coalesce(CAST($limit AS INTEGER), 20)
