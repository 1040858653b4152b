"""`streamer audit --day D`: what the lake can prove about one UTC day's completeness.

For every exchange and symbol of the day: trade-id continuity (the ids missing between the
day's first and last, and since the last id of the day before), how the feeds' `quality` rows
explain each missing range (a reason they could not recover it) or do not, one-minute candle
completeness, book resyncs and checksum failures, and the hours each venue was disconnected.
The exit code is 1 when any hole is unrecovered, so a scheduler can alarm on it.

    sql.py       the queries, one text for DuckDB and Athena (pure)
    findings.py  the records of what was found, and the verdict (pure)
    explain.py   missing ranges cut by `quality`'s holes; what the lake says of a hole (pure)
    build.py     query rows -> findings (pure)
    render.py    the text report and the JSON document (pure)
    engines.py   DuckDB over a local lake, or Athena through boto3
    run.py       the command: flags and settings in, report and exit code out
"""
