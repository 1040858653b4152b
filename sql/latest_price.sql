-- Latest trade price per exchange and symbol, from the last day of trades.
SELECT
  exchange,
  symbol,
  max_by(price, event_time) AS price,
  max(event_time) AS traded_at,
  count(DISTINCT record_id) AS trades
FROM crypto_trades
WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
GROUP BY exchange, symbol
ORDER BY exchange, symbol
