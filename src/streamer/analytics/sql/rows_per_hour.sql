-- Rows per arrival hour (UTC) of one dataset; streamer.analytics fills in {table} and {dataset} from schema.py for every dataset and joins the parts with UNION ALL.
SELECT
  '{dataset}' AS dataset,
  CAST(concat(year, '-', month, '-', day, ' ', hour, ':00:00') AS TIMESTAMP) AS hour_start,
  count(*) AS row_count
FROM {table}
WHERE year BETWEEN :from_year AND :to_year
  AND concat(year, month, day, hour) BETWEEN :first_hour AND :last_hour
GROUP BY year, month, day, hour
