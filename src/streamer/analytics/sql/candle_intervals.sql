-- The closed candle intervals each exchange wrote in the window, with how many candles and their first and last open times.
SELECT
  exchange,
  "interval",
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
GROUP BY exchange, "interval"
ORDER BY exchange, "interval"
