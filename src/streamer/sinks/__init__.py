"""Sinks: where encoded rows go (the local lake, Firehose, or nowhere for benchmarks)."""
