-- 1-hour OHLCV bars rolled up from closed 1-minute candles (duplicates removed by record_id).
WITH candles AS (
  SELECT DISTINCT record_id, exchange, symbol, open_time, open, high, low, close, volume
  FROM crypto_ohlcv
  WHERE "interval" = '1m'
    AND is_closed
    AND concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '2' DAY AS DATE) AS VARCHAR)
)
SELECT
  exchange,
  symbol,
  date_trunc('hour', open_time) AS hour_start,
  min_by(open, open_time) AS open,
  max(high) AS high,
  min(low) AS low,
  max_by(close, open_time) AS close,
  sum(volume) AS volume,
  count(*) AS minutes
FROM candles
GROUP BY exchange, symbol, date_trunc('hour', open_time)
ORDER BY exchange, symbol, hour_start
