-- Funding per perpetual and funding time over the last two days: the rate settled (crypto_funding_rates) beside the last rate predicted for it (crypto_derivative_tickers), matched to the minute; a funding still to come has a prediction and no settled rate yet.
WITH settled AS (
  SELECT exchange, symbol, date_trunc('minute', event_time) AS funding_time, max(funding_rate) AS settled_rate
  FROM crypto_funding_rates
  WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '2' DAY AS DATE) AS VARCHAR)
  GROUP BY exchange, symbol, date_trunc('minute', event_time)
),
predicted AS (
  SELECT
    exchange,
    symbol,
    date_trunc('minute', next_funding_time) AS funding_time,
    max_by(funding_rate, event_time) AS last_predicted,
    max(event_time) AS predicted_at
  FROM crypto_derivative_tickers
  WHERE funding_rate IS NOT NULL
    AND next_funding_time IS NOT NULL
    AND concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '2' DAY AS DATE) AS VARCHAR)
  GROUP BY exchange, symbol, date_trunc('minute', next_funding_time)
)
SELECT
  coalesce(settled.exchange, predicted.exchange) AS exchange,
  coalesce(settled.symbol, predicted.symbol) AS symbol,
  coalesce(settled.funding_time, predicted.funding_time) AS funding_time,
  settled.settled_rate,
  predicted.last_predicted,
  predicted.predicted_at,
  round(CAST(settled.settled_rate - predicted.last_predicted AS DOUBLE) * 10000, 3) AS miss_bps
FROM settled
FULL OUTER JOIN predicted
  ON predicted.exchange = settled.exchange
  AND predicted.symbol = settled.symbol
  AND predicted.funding_time = settled.funding_time
ORDER BY exchange, symbol, funding_time
