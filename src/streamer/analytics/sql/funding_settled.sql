-- Settled fundings per contract in the window (a fraction per funding interval, at the funding time) beside the last rate predicted for that funding, where the window holds it (matched to the minute: a venue may stamp a funding a few milliseconds past its time).
WITH settled AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    event_time,
    CAST(funding_rate AS DOUBLE) AS funding_rate,
    funding_interval_hours,
    CAST(mark_price AS DOUBLE) AS mark_price
  FROM crypto_funding_rates
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
),
predicted AS (
  SELECT
    exchange,
    symbol,
    date_trunc('minute', next_funding_time) AS funding_minute,
    max_by(CAST(funding_rate AS DOUBLE), event_time) AS last_predicted
  FROM crypto_derivative_tickers
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND funding_rate IS NOT NULL
    AND next_funding_time IS NOT NULL
  GROUP BY exchange, symbol, date_trunc('minute', next_funding_time)
)
SELECT
  settled.exchange,
  settled.symbol,
  settled.event_time AS funding_time,
  settled.funding_rate,
  predicted.last_predicted,
  settled.funding_interval_hours,
  settled.mark_price
FROM settled
LEFT JOIN predicted
  ON predicted.exchange = settled.exchange
  AND predicted.symbol = settled.symbol
  AND predicted.funding_minute = date_trunc('minute', settled.event_time)
ORDER BY settled.exchange, settled.symbol, funding_time
