-- Holes in each candle series: consecutive closed candles further apart than one interval, and how many candles are missing between them.
WITH candles AS (
  SELECT DISTINCT exchange, symbol, "interval", open_time, close_time
  FROM crypto_ohlcv
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND open_time >= CAST(:since AS TIMESTAMP)
    AND open_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND is_closed
),
steps AS (
  SELECT
    exchange,
    symbol,
    "interval",
    open_time,
    lag(open_time) OVER (PARTITION BY exchange, symbol, "interval" ORDER BY open_time) AS previous_open,
    date_diff('millisecond', open_time, close_time) + 1 AS interval_ms
  FROM candles
)
SELECT
  exchange,
  symbol,
  "interval",
  previous_open AS last_before,
  open_time AS first_after,
  CAST(round(CAST(date_diff('millisecond', previous_open, open_time) AS DOUBLE) / interval_ms) AS BIGINT) - 1 AS missing_candles
FROM steps
WHERE previous_open IS NOT NULL
  AND date_diff('millisecond', previous_open, open_time) > interval_ms
ORDER BY exchange, symbol, "interval", first_after
