-- Each venue's connection per UTC hour, from the quality rows of its connection stream (symbol *, one per minute and shard; each row once): seconds connected and disconnected (summed over shards), messages, rejects and acknowledged-but-silent subscriptions.
WITH minutes AS (
  SELECT DISTINCT
    record_id,
    exchange,
    shard,
    "minute",
    connected_ms,
    disconnected_ms,
    messages,
    rejects,
    silent_subscriptions
  FROM crypto_quality
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND "minute" >= CAST(:since AS TIMESTAMP)
    AND "minute" < CAST(:until AS TIMESTAMP)
    AND stream = 'connection'
)
SELECT
  exchange,
  date_trunc('hour', "minute") AS hour_start,
  count(DISTINCT shard) AS shards,
  CAST(sum(connected_ms) AS DOUBLE) / 1000 AS connected_s,
  CAST(sum(disconnected_ms) AS DOUBLE) / 1000 AS disconnected_s,
  CAST(sum(messages) AS BIGINT) AS messages,
  CAST(sum(rejects) AS BIGINT) AS rejects,
  CAST(sum(silent_subscriptions) AS BIGINT) AS silent_subscriptions
FROM minutes
GROUP BY exchange, date_trunc('hour', "minute")
ORDER BY exchange, hour_start
