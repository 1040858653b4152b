-- Liquidations per contract, hour and side over the last day (buy: shorts closed, sell: longs closed): orders, filled quantity (contracts on OKX) and notional at the average fill price, else the order's price (OKX's contracts at their size in crypto_instruments); Binance reports at most one per contract and second, so a lower bound.
WITH orders AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    side,
    event_time,
    filled_quantity,
    coalesce(nullif(average_price, 0), price) AS fill_price
  FROM crypto_liquidations
  WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
),
sizes AS (
  SELECT exchange, symbol, max_by(contract_size, event_time) AS contract_size
  FROM crypto_instruments
  GROUP BY exchange, symbol
)
SELECT
  orders.exchange,
  orders.symbol,
  date_trunc('hour', orders.event_time) AS hour_start,
  orders.side,
  count(*) AS orders,
  sum(orders.filled_quantity) AS quantity,
  round(sum(CAST(orders.filled_quantity AS DOUBLE) * coalesce(CAST(sizes.contract_size AS DOUBLE), 1) * CAST(orders.fill_price AS DOUBLE)), 2) AS notional
FROM orders
LEFT JOIN sizes
  ON sizes.exchange = orders.exchange AND sizes.symbol = orders.symbol
GROUP BY orders.exchange, orders.symbol, date_trunc('hour', orders.event_time), orders.side
ORDER BY orders.exchange, orders.symbol, hour_start, orders.side
