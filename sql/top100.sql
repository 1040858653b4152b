-- The top-100 market-cap table from CoinGecko's latest markets poll.
WITH latest AS (
  SELECT
    market_cap_rank,
    coin_id,
    symbol,
    name,
    price,
    market_cap,
    volume_24h,
    price_change_pct_24h,
    received_at,
    row_number() OVER (PARTITION BY coin_id ORDER BY received_at DESC) AS newest
  FROM crypto_markets
  WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
)
SELECT market_cap_rank, coin_id, upper(symbol) AS symbol, name, price, market_cap, volume_24h,
  price_change_pct_24h, received_at
FROM latest
WHERE newest = 1 AND market_cap_rank <= 100
ORDER BY market_cap_rank
LIMIT 100
