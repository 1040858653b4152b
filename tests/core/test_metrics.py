"""Sink counters become CloudWatch embedded-metric events: deltas per interval, gauges as they
are, one dimension set per service and sink, and a finer one per shard when sharded."""

from __future__ import annotations

from streamer.metrics import EmfReporter


def test_counters_are_per_interval_deltas_and_gauges_are_levels() -> None:
    emf = EmfReporter({"Service": "streamer", "Sink": "firehose"})
    emf.event({"RowsIn": 10, "SpoolBytes": 500}, 1_000)
    event = emf.event({"RowsIn": 25, "SpoolBytes": 200}, 2_000)
    assert (event["RowsIn"], event["SpoolBytes"]) == (15, 200)
    (directive,) = event["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Streamer"
    assert directive["Dimensions"] == [["Service", "Sink"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {"RowsIn": "Count", "SpoolBytes": "Bytes"}
    assert event["_aws"]["Timestamp"] == 2_000 and event["Sink"] == "firehose"


def test_a_shard_adds_a_finer_dimension_set_and_keeps_the_summed_one() -> None:
    emf = EmfReporter({"Service": "streamer", "Sink": "lake"}, {"Shard": "1/3"})
    event = emf.event({"ObjectsWritten": 2}, 5)
    (directive,) = event["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["Service", "Sink"], ["Service", "Shard", "Sink"]]
    assert event["Shard"] == "1/3" and directive["Metrics"] == [
        {"Name": "ObjectsWritten", "Unit": "Count"}
    ]
