-- Traded volume per exchange, symbol and taker side in bars (base units, quote units and trade count; one row per record_id).
WITH trades AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    side,
    CAST(price AS DOUBLE) AS price,
    CAST(size AS DOUBLE) AS size,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_trades
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
)
SELECT
  exchange,
  symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * bar_epoch AS bar_start,
  side,
  sum(size) AS volume,
  sum(price * size) AS quote_volume,
  count(*) AS trades
FROM trades
GROUP BY exchange, symbol, bar_epoch, side
ORDER BY exchange, symbol, bar_start, side
