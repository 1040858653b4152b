-- Liquidations per contract, hour and side over the last day (buy: shorts closed, sell: longs closed): orders, filled quantity and notional at the average fill price, else the order's price; Binance reports at most one per contract and second, so a lower bound.
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
)
SELECT
  exchange,
  symbol,
  date_trunc('hour', event_time) AS hour_start,
  side,
  count(*) AS orders,
  sum(filled_quantity) AS quantity,
  round(sum(CAST(filled_quantity AS DOUBLE) * CAST(fill_price AS DOUBLE)), 2) AS notional
FROM orders
GROUP BY exchange, symbol, date_trunc('hour', event_time), side
ORDER BY exchange, symbol, hour_start, side
