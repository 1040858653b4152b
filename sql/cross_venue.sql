-- One coin's latest spot price on Binance (USDT), Coinbase (USD), OKX (USDT), Kraken (USD) and CoinGecko (USD), side by side.
WITH venues AS (
  SELECT
    exchange,
    split_part(symbol, '-', 1) AS base,
    split_part(symbol, '-', 2) AS quote,
    max_by(price, event_time) AS price
  FROM crypto_trades
  WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
    AND split_part(symbol, '-', 3) = '' -- spot pairs (BASE-QUOTE), not contracts (BASE-QUOTE-PERP)
  GROUP BY exchange, split_part(symbol, '-', 1), split_part(symbol, '-', 2)
),
coins AS (
  SELECT DISTINCT coin_id, upper(symbol) AS base
  FROM crypto_markets
  WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
),
gecko AS (
  SELECT coins.base, max_by(spot.price, spot.received_at) AS price
  FROM crypto_spot_prices AS spot
  JOIN coins ON coins.coin_id = spot.coin_id
  WHERE spot.vs_currency = 'usd'
    AND concat(spot.year, '-', spot.month, '-', spot.day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
  GROUP BY coins.base
)
SELECT
  gecko.base AS coin,
  binance.price AS binance_usdt,
  coinbase.price AS coinbase_usd,
  okx.price AS okx_usdt,
  kraken.price AS kraken_usd,
  gecko.price AS coingecko_usd,
  round((CAST(coinbase.price AS DOUBLE) / CAST(binance.price AS DOUBLE) - 1) * 10000, 2) AS coinbase_vs_binance_bps
FROM gecko
LEFT JOIN venues AS binance ON binance.base = gecko.base AND binance.exchange = 'binance' AND binance.quote = 'USDT'
LEFT JOIN venues AS coinbase ON coinbase.base = gecko.base AND coinbase.exchange = 'coinbase' AND coinbase.quote = 'USD'
LEFT JOIN venues AS okx ON okx.base = gecko.base AND okx.exchange = 'okx' AND okx.quote = 'USDT'
LEFT JOIN venues AS kraken ON kraken.base = gecko.base AND kraken.exchange = 'kraken' AND kraken.quote = 'USD'
ORDER BY gecko.base
