-- Connections by number of SYN attempts, and how they ended (yconalyzer's SYN-attempt distribution and RST count).
SELECT syn_attempts, count(*) AS connections,
  count(*) FILTER (WHERE established_us IS NOT NULL) AS established,
  count(*) FILTER (WHERE end_reason = 'rst') AS rst,
  count(*) FILTER (WHERE end_reason = 'fin') AS fin
FROM connections
WHERE (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
GROUP BY syn_attempts
ORDER BY syn_attempts
