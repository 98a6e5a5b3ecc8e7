-- Live capture by hour: per sensor and hour of the live runs that began in the range, the packets read, the packets the kernel dropped (drops: its ring was full) and its share of what reached the kernel (drops_pct), and the packets the interfaces dropped on receive (their counters count every frame, whatever the filter).
SELECT sensor, h.hour, sum(h.packets) AS packets, sum(h.drops) AS drops,
  round(100 * sum(h.drops) / nullif(sum(h.packets) + sum(h.drops), 0), 3) AS drops_pct,
  sum(h.interface_drops) AS interface_drops
FROM (SELECT sensor, unnest(hours) AS h FROM runs WHERE hours IS NOT NULL)
GROUP BY sensor, h.hour
ORDER BY sensor, h.hour
