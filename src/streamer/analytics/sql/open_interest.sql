-- Open interest per contract in bars: the last value polled in each bar (contracts, as the venue counts them) and its quote value at the bar's last mark price (contracts times their size in crypto_instruments, 1 where none is listed: Binance USD-M counts base units, OKX swaps are 0.01 BTC, 0.1 ETH, ...).
WITH polled AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    event_time,
    CAST(open_interest AS DOUBLE) AS open_interest,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_open_interest
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
),
bars AS (
  SELECT exchange, symbol, bar_epoch, max_by(open_interest, event_time) AS open_interest, count(*) AS polls
  FROM polled
  GROUP BY exchange, symbol, bar_epoch
),
marks AS (
  SELECT
    exchange,
    symbol,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch,
    max_by(CAST(mark_price AS DOUBLE), event_time) AS mark_price
  FROM crypto_derivative_tickers
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
  GROUP BY 1, 2, 3
),
sizes AS (
  SELECT exchange, symbol, max_by(CAST(contract_size AS DOUBLE), event_time) AS contract_size
  FROM crypto_instruments
  GROUP BY exchange, symbol
)
SELECT
  bars.exchange,
  bars.symbol,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * bars.bar_epoch AS bar_start,
  bars.open_interest,
  marks.mark_price,
  bars.open_interest * coalesce(sizes.contract_size, 1) * marks.mark_price AS open_interest_quote,
  bars.polls
FROM bars
LEFT JOIN marks
  ON marks.exchange = bars.exchange AND marks.symbol = bars.symbol AND marks.bar_epoch = bars.bar_epoch
LEFT JOIN sizes
  ON sizes.exchange = bars.exchange AND sizes.symbol = bars.symbol
ORDER BY bars.exchange, bars.symbol, bar_start
