-- Candles per exchange and symbol in bars of any length, rolled up from closed candles of one interval (one row per record_id).
WITH candles AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    open_time,
    open,
    high,
    low,
    close,
    volume,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', open_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_ohlcv
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND open_time >= CAST(:since AS TIMESTAMP)
    AND open_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND (:exchange = '' OR exchange = :exchange)
    AND "interval" = :source_interval
    AND is_closed
)
SELECT
  exchange,
  symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * bar_epoch AS bar_start,
  CAST(min_by(open, open_time) AS DOUBLE) AS open,
  CAST(max(high) AS DOUBLE) AS high,
  CAST(min(low) AS DOUBLE) AS low,
  CAST(max_by(close, open_time) AS DOUBLE) AS close,
  CAST(sum(volume) AS DOUBLE) AS volume,
  count(*) AS candles
FROM candles
GROUP BY exchange, symbol, bar_epoch
ORDER BY exchange, symbol, bar_start
