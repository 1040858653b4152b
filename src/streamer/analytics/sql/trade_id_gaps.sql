-- Trade ids missing per exchange, symbol and UTC hour, from the trades themselves: the ids absent between consecutive distinct integer ids of the window, each missing range counted in the hour of the trade after it (trades whose id is no integer are left out).
WITH ids AS (
  SELECT
    exchange,
    symbol,
    try_cast(trade_id AS BIGINT) AS id,
    min(event_time) AS event_time
  FROM crypto_trades
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND try_cast(trade_id AS BIGINT) IS NOT NULL
  GROUP BY exchange, symbol, try_cast(trade_id AS BIGINT)
),
steps AS (
  SELECT
    exchange,
    symbol,
    event_time,
    id - lag(id) OVER (PARTITION BY exchange, symbol ORDER BY id) - 1 AS skipped
  FROM ids
)
SELECT
  exchange,
  symbol,
  date_trunc('hour', event_time) AS hour_start,
  count(*) AS trades,
  CAST(sum(CASE WHEN skipped > 0 THEN skipped ELSE 0 END) AS BIGINT) AS missing_ids,
  CAST(sum(CASE WHEN skipped > 0 THEN 1 ELSE 0 END) AS BIGINT) AS gaps
FROM steps
GROUP BY exchange, symbol, date_trunc('hour', event_time)
ORDER BY exchange, symbol, hour_start
