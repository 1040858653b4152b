-- Bid/ask spread (absolute and in basis points) from each symbol's latest order-book snapshot.
WITH latest AS (
  SELECT
    exchange,
    symbol,
    event_time,
    bids[1].price AS best_bid,
    asks[1].price AS best_ask,
    row_number() OVER (PARTITION BY exchange, symbol ORDER BY event_time DESC) AS newest
  FROM crypto_order_books
  WHERE cardinality(bids) > 0
    AND cardinality(asks) > 0
    AND concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
)
SELECT
  exchange,
  symbol,
  event_time,
  best_bid,
  best_ask,
  best_ask - best_bid AS spread,
  round(CAST(best_ask - best_bid AS DOUBLE) / CAST(best_ask + best_bid AS DOUBLE) * 20000, 3) AS spread_bps
FROM latest
WHERE newest = 1
ORDER BY exchange, symbol
