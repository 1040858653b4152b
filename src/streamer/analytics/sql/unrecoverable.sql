-- Id ranges the collector could not recover (a history limit, a delisted symbol), with the reason and the minute they were recorded in, from the quality rows (each row once; at most 100 ranges per row, ranges_in_row counts them all).
WITH holes AS (
  SELECT DISTINCT
    record_id,
    exchange,
    symbol,
    stream,
    "minute",
    unrecoverable
  FROM crypto_quality
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND "minute" >= CAST(:since AS TIMESTAMP)
    AND "minute" < CAST(:until AS TIMESTAMP)
    AND (:symbols = '' OR strpos(concat(',', :symbols, ','), concat(',', symbol, ',')) > 0)
    AND cardinality(unrecoverable) > 0
),
digits AS (
  SELECT d FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS t (d)
),
positions AS (
  SELECT tens.d * 10 + ones.d + 1 AS n
  FROM digits AS tens
  CROSS JOIN digits AS ones
)
SELECT
  holes.exchange,
  holes.symbol,
  holes.stream,
  holes."minute",
  holes.unrecoverable[positions.n]."first" AS first_id,
  holes.unrecoverable[positions.n]."last" AS last_id,
  holes.unrecoverable[positions.n]."last" - holes.unrecoverable[positions.n]."first" + 1 AS ids,
  holes.unrecoverable[positions.n].reason AS reason,
  cardinality(holes.unrecoverable) AS ranges_in_row
FROM holes
CROSS JOIN positions
WHERE positions.n <= cardinality(holes.unrecoverable)
ORDER BY holes.exchange, holes.symbol, holes."minute", first_id
