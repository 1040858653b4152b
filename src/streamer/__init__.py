"""streamer: near-real-time crypto market data into an S3/Athena or local DuckDB lake."""

__version__ = "0.1.0"
