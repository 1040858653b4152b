-- Mark price against index price per contract in bars: the last of each and the basis (mark / index - 1) in basis points, its mean, lowest and highest over the bar's ticks.
WITH ticks AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    event_time,
    CAST(mark_price AS DOUBLE) AS mark_price,
    CAST(index_price AS DOUBLE) AS index_price,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_derivative_tickers
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND index_price > 0
)
SELECT
  exchange,
  symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * bar_epoch AS bar_start,
  max_by(mark_price, event_time) AS mark_price,
  max_by(index_price, event_time) AS index_price,
  avg((mark_price / index_price - 1) * 10000) AS basis_bps,
  min((mark_price / index_price - 1) * 10000) AS min_basis_bps,
  max((mark_price / index_price - 1) * 10000) AS max_basis_bps,
  count(*) AS ticks
FROM ticks
GROUP BY exchange, symbol, bar_epoch
ORDER BY exchange, symbol, bar_start
