"""Daily compaction: one day of a dataset's raw gzip JSON objects into a few sorted Parquet files.

For each dataset and day the job de-duplicates the raw rows by `record_id`, sorts them by
(exchange, symbol, event_time) where those columns exist, and writes Parquet under
`crypto/compacted/<dataset>/year=/month=/day=/`. Then it writes the day's manifest
(`crypto/compaction/<dataset>/<day>.json`), last. The name users query, `crypto_<dataset>`, is a
view that reads the days in the manifests from Parquet and every other day from the raw
objects, never both for one day.

    layout.py   names and keys: tables, prefixes, manifests, run ids, `--day` (pure)
    sql.py      the SQL both engines run: de-duplication and the view (pure; Trino and DuckDB)
    catalog.py  the Glue tables and Athena views, exported into schema.json for Terraform
    local.py    the DuckDB engine over a local lake
    athena.py   the Athena engine: the command only orchestrates Athena, S3 and the views
    run.py      both engines behind one loop over datasets; what `streamer compact` prints

Both engines keep two promises. Running a day again replaces its output and never appends.
A failure leaves the previous output in place. A raw object that cannot be read fails that day
with a message naming it, and nothing is deleted.
"""
