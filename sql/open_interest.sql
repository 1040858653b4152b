-- Open interest per contract and hour over the last day: the last value polled (contracts, as the venue counts them), its change over the hour and its worth at the hour's last mark price (contracts times their size in crypto_instruments, 1 where none is listed: OKX swaps are 0.01 BTC, 0.1 ETH, ...).
WITH polled AS (
  SELECT
    exchange,
    symbol,
    date_trunc('hour', event_time) AS hour_start,
    max_by(open_interest, event_time) AS open_interest,
    min_by(open_interest, event_time) AS first_open_interest
  FROM crypto_open_interest
  WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
  GROUP BY exchange, symbol, date_trunc('hour', event_time)
),
marks AS (
  SELECT exchange, symbol, date_trunc('hour', event_time) AS hour_start, max_by(mark_price, event_time) AS mark_price
  FROM crypto_derivative_tickers
  WHERE concat(year, '-', month, '-', day) >= CAST(CAST(current_timestamp - INTERVAL '1' DAY AS DATE) AS VARCHAR)
  GROUP BY exchange, symbol, date_trunc('hour', event_time)
),
sizes AS (
  SELECT exchange, symbol, max_by(contract_size, event_time) AS contract_size
  FROM crypto_instruments
  GROUP BY exchange, symbol
)
SELECT
  polled.exchange,
  polled.symbol,
  polled.hour_start,
  polled.open_interest,
  polled.open_interest - polled.first_open_interest AS change_in_hour,
  marks.mark_price,
  round(CAST(polled.open_interest AS DOUBLE) * coalesce(CAST(sizes.contract_size AS DOUBLE), 1) * CAST(marks.mark_price AS DOUBLE), 2) AS open_interest_quote
FROM polled
LEFT JOIN marks
  ON marks.exchange = polled.exchange AND marks.symbol = polled.symbol AND marks.hour_start = polled.hour_start
LEFT JOIN sizes
  ON sizes.exchange = polled.exchange AND sizes.symbol = polled.symbol
ORDER BY polled.exchange, polled.symbol, polled.hour_start
