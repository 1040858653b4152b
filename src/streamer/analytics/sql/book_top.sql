-- Top of book per exchange and symbol in bars: mean mid price, spread in basis points and best-level depth (base and quote units); a book re-sent unchanged counts at each time it was seen, a row delivered twice once.
WITH books AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    event_time,
    CAST(bids[1].price AS DOUBLE) AS bid,
    CAST(bids[1].size AS DOUBLE) AS bid_size,
    CAST(asks[1].price AS DOUBLE) AS ask,
    CAST(asks[1].size AS DOUBLE) AS ask_size,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_order_books
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND cardinality(bids) > 0
    AND cardinality(asks) > 0
)
SELECT
  exchange,
  symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * bar_epoch AS bar_start,
  avg((bid + ask) / 2) AS mid,
  avg((ask - bid) / ((ask + bid) / 2) * 10000) AS spread_bps,
  max((ask - bid) / ((ask + bid) / 2) * 10000) AS max_spread_bps,
  avg(bid_size) AS bid_size,
  avg(ask_size) AS ask_size,
  avg(bid * bid_size) AS bid_depth_quote,
  avg(ask * ask_size) AS ask_depth_quote,
  count(*) AS snapshots
FROM books
GROUP BY exchange, symbol, bar_epoch
ORDER BY exchange, symbol, bar_start
