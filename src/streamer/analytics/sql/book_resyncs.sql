-- Order-book resyncs per exchange, symbol and UTC hour, by cause (sequence break, checksum mismatch, venue reset), from the quality rows of the order_books stream (one per minute; each row once).
WITH minutes AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    "minute",
    resyncs_sequence_break,
    resyncs_checksum_mismatch,
    resyncs_venue_reset
  FROM crypto_quality
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND "minute" >= CAST(:since AS TIMESTAMP)
    AND "minute" < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND stream = 'order_books'
)
SELECT
  exchange,
  symbol,
  date_trunc('hour', "minute") AS hour_start,
  CAST(sum(resyncs_sequence_break) AS BIGINT) AS sequence_break,
  CAST(sum(resyncs_checksum_mismatch) AS BIGINT) AS checksum_mismatch,
  CAST(sum(resyncs_venue_reset) AS BIGINT) AS venue_reset,
  count(*) AS quality_rows
FROM minutes
GROUP BY exchange, symbol, date_trunc('hour', "minute")
ORDER BY exchange, symbol, hour_start
