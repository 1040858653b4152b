-- The top N coins by market cap in CoinGecko's latest markets poll of the window, in one currency.
WITH latest AS (
  SELECT
    coin_id,
    upper(symbol) AS symbol,
    name,
    market_cap_rank,
    CAST(price AS DOUBLE) AS price,
    CAST(market_cap AS DOUBLE) AS market_cap,
    CAST(volume_24h AS DOUBLE) AS volume_24h,
    CAST(price_change_pct_24h AS DOUBLE) AS price_change_pct_24h,
    received_at,
    row_number() OVER (PARTITION BY coin_id ORDER BY received_at DESC) AS newest
  FROM crypto_markets
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND received_at >= CAST(:since AS TIMESTAMP)
    AND received_at < CAST(:until AS TIMESTAMP)
    AND vs_currency = :vs_currency
),
ranked AS (
  SELECT
    coin_id, symbol, name, market_cap_rank, price, market_cap, volume_24h, price_change_pct_24h,
    received_at,
    row_number() OVER (ORDER BY market_cap DESC, coin_id) AS position
  FROM latest
  WHERE newest = 1 AND market_cap IS NOT NULL
)
SELECT
  position, coin_id, symbol, name, market_cap_rank, price, market_cap, volume_24h,
  price_change_pct_24h, received_at
FROM ranked
WHERE position <= :top
ORDER BY position
