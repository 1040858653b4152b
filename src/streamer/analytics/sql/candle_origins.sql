-- Closed candles per exchange, symbol, interval and origin: ws (streamed) or rest (backfilled after a reconnect or a hole).
SELECT
  exchange,
  symbol,
  "interval",
  origin,
  count(DISTINCT record_id) AS candles,
  min(open_time) AS first_open,
  max(open_time) AS last_open
FROM crypto_ohlcv
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
  AND open_time >= CAST(:since AS TIMESTAMP)
  AND open_time < CAST(:until AS TIMESTAMP)
  AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
  AND is_closed
GROUP BY exchange, symbol, "interval", origin
ORDER BY exchange, symbol, "interval", origin
