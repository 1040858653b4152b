-- The first and last event time and the rows of the trades and order-book snapshots per exchange in the window: the data each chart's bar is chosen from.
SELECT
  'crypto_trades' AS dataset,
  exchange,
  min(event_time) AS first_time,
  max(event_time) AS last_time,
  count(*) AS row_count
FROM crypto_trades
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND event_time >= CAST(:since AS TIMESTAMP)
  AND event_time < CAST(:until AS TIMESTAMP)
  AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
GROUP BY exchange
UNION ALL
SELECT
  'crypto_order_books' AS dataset,
  exchange,
  min(event_time) AS first_time,
  max(event_time) AS last_time,
  count(*) AS row_count
FROM crypto_order_books
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND event_time >= CAST(:since AS TIMESTAMP)
  AND event_time < CAST(:until AS TIMESTAMP)
  AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
GROUP BY exchange
ORDER BY dataset, exchange
