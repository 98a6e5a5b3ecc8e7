-- Response-time distribution of one server per day or hour (the paper's Fig. 5): response_times measured and the 2.5 %, 5 %, ..., 100 % nearest-rank quantiles per period, in ms.
SELECT date_trunc(coalesce(CAST($period AS VARCHAR), 'day'), ts) AS period,
  count(*) AS response_times,
  list_transform(quantile_disc(think_us, [0.025, 0.050, 0.075, 0.100, 0.125, 0.150, 0.175, 0.200, 0.225, 0.250, 0.275, 0.300, 0.325, 0.350, 0.375, 0.400, 0.425, 0.450, 0.475, 0.500, 0.525, 0.550, 0.575, 0.600, 0.625, 0.650, 0.675, 0.700, 0.725, 0.750, 0.775, 0.800, 0.825, 0.850, 0.875, 0.900, 0.925, 0.950, 0.975, 1.000]), q -> round(q / 1000, 3)) AS quantiles_ms
FROM adus
WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND think_us IS NOT NULL
  AND (CAST($server AS VARCHAR) IS NULL OR server_ip = $server)
  AND (CAST($port AS INTEGER) IS NULL OR server_port = $port)
GROUP BY ALL
ORDER BY period
