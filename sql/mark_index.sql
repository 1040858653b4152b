-- Mark price against index price per contract and hour over the last day: the premium of mark over index in basis points (mean, lowest, highest) and the hour's last mark and index.
WITH ticks AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    event_time,
    mark_price,
    index_price,
    (CAST(mark_price AS DOUBLE) / CAST(index_price AS DOUBLE) - 1) * 10000 AS premium_bps
  FROM crypto_derivative_tickers
  WHERE index_price > 0
    AND concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
)
SELECT
  exchange,
  symbol,
  date_trunc('hour', event_time) AS hour_start,
  round(avg(premium_bps), 3) AS premium_bps,
  round(min(premium_bps), 3) AS min_premium_bps,
  round(max(premium_bps), 3) AS max_premium_bps,
  max_by(mark_price, event_time) AS mark_price,
  max_by(index_price, event_time) AS index_price,
  count(*) AS ticks
FROM ticks
GROUP BY exchange, symbol, date_trunc('hour', event_time)
ORDER BY exchange, symbol, hour_start
