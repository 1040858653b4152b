-- Liquidations per exchange, contract and side in bars: orders, filled quantity and notional (at the average fill price, else the order's price; OKX's contracts at their size in crypto_instruments); buy means a short was liquidated, sell a long. Binance reports at most the latest per symbol and second, so these are lower bounds.
WITH orders AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    side,
    CAST(filled_quantity AS DOUBLE) AS quantity,
    CAST(coalesce(nullif(average_price, 0), price) AS DOUBLE) AS price,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_liquidations
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
  orders.exchange,
  orders.symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * orders.bar_epoch AS bar_start,
  orders.side,
  count(*) AS liquidations,
  sum(orders.quantity) AS quantity,
  sum(orders.quantity * coalesce(sizes.contract_size, 1) * orders.price) AS notional
FROM orders
LEFT JOIN sizes
  ON sizes.exchange = orders.exchange AND sizes.symbol = orders.symbol
GROUP BY orders.exchange, orders.symbol, orders.bar_epoch, orders.side
ORDER BY orders.exchange, orders.symbol, bar_start, orders.side
