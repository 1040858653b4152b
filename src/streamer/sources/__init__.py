"""Market-data sources: one module per venue behind the small `Source` protocol (`base.py`)."""
