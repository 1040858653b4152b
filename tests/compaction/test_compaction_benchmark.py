"""`benchmarks/compaction.py` is the yardstick of compaction: its compaction loop must run on a
simulated lake. It once asserted that every dataset compacted to a manifest, and so failed on
the opt-in datasets the simulated deployment does not write (`book_updates`, then the datasets
added since), whose outcome is `empty`, without a manifest."""

from __future__ import annotations

from pathlib import Path

from streamer.compaction.manifests import read_local
from streamer.schema import DATASETS
from tests import benchmark_scripts


async def test_the_benchmark_compacts_a_simulated_lake_skipping_unwritten_datasets(
    tmp_path: Path,
) -> None:
    bench = benchmark_scripts.load("compaction")
    await bench.simulate(tmp_path, 130, seed=1)  # two CoinGecko polls, some candles
    written = {
        d.name
        for d in DATASETS.values()
        if bench.files_of(tmp_path, bench.raw_day_prefix(d, bench.DAY.date()) + "hour=*/*.gz")[0]
    }
    assert len(written) < len(DATASETS)  # opt-in datasets stay empty, as in the deployment
    sizes, times, _ = bench.compact_all(tmp_path, runs=2)
    assert {row[0] for row in sizes} == {row[0] for row in times} == written
    for name in written:
        manifest = read_local(tmp_path, DATASETS[name], bench.DAY.date())
        assert manifest is not None and manifest.rows > 0 and manifest.run.endswith("_00000001")
