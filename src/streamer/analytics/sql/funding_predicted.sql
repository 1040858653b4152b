-- Predicted funding per contract in bars: the rate the venue last showed in each bar for its next funding (a fraction per funding interval) and that funding's time; dated contracts, which do not fund, have none.
WITH ticks AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    event_time,
    CAST(funding_rate AS DOUBLE) AS funding_rate,
    next_funding_time,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_derivative_tickers
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND funding_rate IS NOT NULL
)
SELECT
  exchange,
  symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * bar_epoch AS bar_start,
  max_by(funding_rate, event_time) AS funding_rate,
  max_by(next_funding_time, event_time) AS next_funding_time,
  count(*) AS ticks
FROM ticks
GROUP BY exchange, symbol, bar_epoch
ORDER BY exchange, symbol, bar_start
