"""The on-disk spool: order, durability across reopen, torn tails, the disk budget."""

from __future__ import annotations

from pathlib import Path

from streamer.spool import (
    SpoolBudget,
    StreamSpool,
    decode_frames,
    encode_frames,
    fsync_and_close,
    open_spools,
)


def drain(spool: StreamSpool) -> list[bytes]:
    out: list[bytes] = []
    while (segment := spool.oldest()) is not None:
        chunks, torn = spool.read(segment)
        assert torn == 0
        out.extend(chunks)
        spool.remove(segment)
    return out


def test_frames_round_trip_and_a_torn_tail_is_cut_off() -> None:
    chunks = [b"a\n", b"bb\n" * 100, b""]
    data = encode_frames(chunks)
    assert decode_frames(data) == (chunks, 0)
    assert decode_frames(data[:-1]) == (chunks[:2], 7)  # the empty frame's header is torn
    cut = len(encode_frames(chunks[:1])) + 10
    assert decode_frames(data[:cut]) == (chunks[:1], 10)


def test_a_corrupted_frame_stops_the_read_without_losing_earlier_frames() -> None:
    data = bytearray(encode_frames([b"one\n", b"two\n", b"three\n"]))
    first = len(encode_frames([b"one\n"]))
    data[first + 9] ^= 0xFF  # flip a byte inside the second payload
    chunks, bad = decode_frames(bytes(data))
    assert chunks == [b"one\n"]
    assert bad == len(data) - first


def test_appends_come_back_in_order_across_segments(tmp_path: Path) -> None:
    budget = SpoolBudget(max_bytes=10**9)
    spool = StreamSpool.open(tmp_path / "crypto-trades", budget)
    spool.segment_bytes = 100
    written = [f"row {i}\n".encode() * 5 for i in range(30)]
    for chunk in written:
        assert spool.append([chunk])
    assert len(list((tmp_path / "crypto-trades").glob("*.seg"))) > 5
    assert budget.used == spool.size > 0
    assert drain(spool) == written
    assert spool.empty and budget.used == 0
    assert list((tmp_path / "crypto-trades").glob("*.seg")) == []


def test_a_new_process_finds_and_replays_what_the_old_one_left(tmp_path: Path) -> None:
    budget = SpoolBudget(max_bytes=10**9)
    spool = StreamSpool.open(tmp_path / "crypto-tickers", budget)
    spool.append([b"t1\n", b"t2\n"])
    spool.append([b"t3\n"])
    fd = spool.sync_handle()
    assert fd is not None
    fsync_and_close(fd)
    assert spool.sync_handle() is None  # nothing new since
    # no close(): as after kill -9, the file is simply left behind
    fresh = SpoolBudget(max_bytes=10**9)
    found = open_spools(tmp_path, fresh)
    assert list(found) == ["crypto-tickers"]
    assert fresh.used == spool.size
    reopened = found["crypto-tickers"]
    reopened.append([b"t4\n"])  # new appends go after the old segments
    assert drain(reopened) == [b"t1\n", b"t2\n", b"t3\n", b"t4\n"]
    reopened.close()
    spool.close()


def test_a_full_budget_refuses_the_append_and_writes_nothing(tmp_path: Path) -> None:
    budget = SpoolBudget(max_bytes=50)
    spool = StreamSpool.open(tmp_path / "s", budget)
    assert spool.append([b"x" * 30])
    used = budget.used
    assert not spool.append([b"y" * 30])
    assert budget.used == used
    assert drain(spool) == [b"x" * 30]


def test_the_budget_is_shared_between_streams(tmp_path: Path) -> None:
    budget = SpoolBudget(max_bytes=100)
    a = StreamSpool.open(tmp_path / "a", budget)
    b = StreamSpool.open(tmp_path / "b", budget)
    assert a.append([b"1" * 40])
    assert b.append([b"2" * 40])
    assert not a.append([b"3" * 40])
    drain(b)
    assert a.append([b"3" * 40])
    a.close()
    b.close()
