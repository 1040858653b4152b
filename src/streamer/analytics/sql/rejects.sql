-- Rejected frames per source and reason: how many, and when the first and the last arrived.
SELECT
  source,
  reason,
  count(*) AS rejects,
  min(received_at) AS first_seen,
  max(received_at) AS last_seen
FROM crypto_rejects
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND received_at >= CAST(:since AS TIMESTAMP)
  AND received_at < CAST(:until AS TIMESTAMP)
GROUP BY source, reason
ORDER BY rejects DESC, source, reason
