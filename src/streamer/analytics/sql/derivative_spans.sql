-- The first and last event time and the rows of each derivatives dataset per exchange in the window: what the derivatives page's bar is chosen from (settled fundings, fetched a day back, are listed but not used for it).
SELECT
  'crypto_derivative_tickers' AS dataset,
  exchange,
  min(event_time) AS first_time,
  max(event_time) AS last_time,
  count(*) AS row_count
FROM crypto_derivative_tickers
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND event_time >= CAST(:since AS TIMESTAMP)
  AND event_time < CAST(:until AS TIMESTAMP)
  AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
GROUP BY exchange
UNION ALL
SELECT
  'crypto_open_interest' AS dataset,
  exchange,
  min(event_time) AS first_time,
  max(event_time) AS last_time,
  count(*) AS row_count
FROM crypto_open_interest
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND event_time >= CAST(:since AS TIMESTAMP)
  AND event_time < CAST(:until AS TIMESTAMP)
  AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
GROUP BY exchange
UNION ALL
SELECT
  'crypto_liquidations' AS dataset,
  exchange,
  min(event_time) AS first_time,
  max(event_time) AS last_time,
  count(*) AS row_count
FROM crypto_liquidations
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND event_time >= CAST(:since AS TIMESTAMP)
  AND event_time < CAST(:until AS TIMESTAMP)
  AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
GROUP BY exchange
UNION ALL
SELECT
  'crypto_funding_rates' AS dataset,
  exchange,
  min(event_time) AS first_time,
  max(event_time) AS last_time,
  count(*) AS row_count
FROM crypto_funding_rates
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND event_time >= CAST(:since AS TIMESTAMP)
  AND event_time < CAST(:until AS TIMESTAMP)
  AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
GROUP BY exchange
ORDER BY dataset, exchange
