-- Open interest per contract and hour over the last day: the last value polled (contracts), its change over the hour and its worth at the hour's last mark price.
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
)
SELECT
  polled.exchange,
  polled.symbol,
  polled.hour_start,
  polled.open_interest,
  polled.open_interest - polled.first_open_interest AS change_in_hour,
  marks.mark_price,
  round(CAST(polled.open_interest AS DOUBLE) * CAST(marks.mark_price AS DOUBLE), 2) AS open_interest_quote
FROM polled
LEFT JOIN marks
  ON marks.exchange = polled.exchange AND marks.symbol = polled.symbol AND marks.hour_start = polled.hour_start
ORDER BY polled.exchange, polled.symbol, polled.hour_start
