-- Traded volume per exchange, symbol and taker side in bars (base units, quote units and trade count; one row per record_id); sizes sent in contracts (OKX swaps) count at the contract's size in crypto_instruments.
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
),
sizes AS (
  SELECT exchange, symbol, max_by(CAST(contract_size AS DOUBLE), event_time) AS contract_size
  FROM crypto_instruments
  GROUP BY exchange, symbol
)
SELECT
  trades.exchange,
  trades.symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * trades.bar_epoch AS bar_start,
  trades.side,
  sum(trades.size * coalesce(sizes.contract_size, 1)) AS volume,
  sum(trades.price * trades.size * coalesce(sizes.contract_size, 1)) AS quote_volume,
  count(*) AS trades
FROM trades
LEFT JOIN sizes
  ON sizes.exchange = trades.exchange AND sizes.symbol = trades.symbol
GROUP BY trades.exchange, trades.symbol, trades.bar_epoch, trades.side
ORDER BY trades.exchange, trades.symbol, bar_start, trades.side
