"""The pure parts of USD-M's REST datasets: when each settled funding is asked and which rows of
an answer are new, how polls are spread, which instrument rows are written, `fundingInfo`."""

from __future__ import annotations

from streamer.records import Dec, FundingRate, Hours, Instrument, Item, Millis, Reject
from streamer.venues.binance.usdm_funding import FundingTracks, next_funding
from streamer.venues.binance.usdm_instruments import changed
from streamer.venues.binance.usdm_polls import slots
from streamer.venues.binance.usdm_rest import funding_intervals

H = 3_600_000
F = 1_764_000_000_000 - 1_764_000_000_000 % (8 * H)  # a funding time (8 h from midnight UTC)
AT = Millis(0)


def funding(at: int) -> FundingRate:
    return FundingRate("binance_usdm", "BTC-USDT-PERP", Millis(at), AT, Dec("0.0001"), Hours(8),
                       None, f"id{at}")  # fmt: skip


def tracks() -> FundingTracks:
    return FundingTracks(settle_ms=5_000, retry_ms=15_000, patience_ms=900_000)


def test_the_next_funding_is_one_interval_after_the_newest_asked_after_the_settle_wait() -> None:
    t = tracks()
    t.add("BTC-USDT-PERP", F, 8, F + 60_000)
    track = t.tracks["BTC-USDT-PERP"]
    assert (track.seen, track.expected, track.ask_at) == (F, F + 8 * H, F + 8 * H + 5_000)
    assert t.due(F + 8 * H + 4_999) == [] and t.due(F + 8 * H + 5_000) == ["BTC-USDT-PERP"]


def test_without_a_backfill_the_funding_before_start_is_not_asked() -> None:
    t = tracks()
    t.add("BTC-USDT-PERP", None, 4, F + H)
    assert t.tracks["BTC-USDT-PERP"].expected == F + 4 * H == next_funding(F + H, 4)


def test_a_rate_not_there_yet_is_asked_again_and_rows_already_handed_on_are_dropped() -> None:
    t = tracks()
    t.add("BTC-USDT-PERP", F, 8, F)
    now = F + 8 * H + 5_000
    assert t.answered("BTC-USDT-PERP", [funding(F)], 8, now) == []  # the old one again
    assert t.tracks["BTC-USDT-PERP"].ask_at == now + 15_000
    late = funding(F + 8 * H + 3)  # Binance's funding times can be a few ms off
    assert t.answered("BTC-USDT-PERP", [funding(F), late], 8, now + 15_000) == [late]
    track = t.tracks["BTC-USDT-PERP"]
    assert (track.seen, track.expected) == (F + 8 * H + 3, F + 16 * H + 3)


def test_past_the_patience_the_next_funding_is_waited_for_and_the_late_one_still_arrives() -> None:
    t = tracks()
    t.add("BTC-USDT-PERP", F, 8, F)
    t.answered("BTC-USDT-PERP", [], 8, F + 8 * H + 900_000)
    assert t.late == [("BTC-USDT-PERP", F + 8 * H)]
    assert t.tracks["BTC-USDT-PERP"].expected == F + 16 * H
    both = [funding(F + 8 * H), funding(F + 16 * H)]
    assert t.answered("BTC-USDT-PERP", both, 8, F + 16 * H + 5_000) == both
    assert t.tracks["BTC-USDT-PERP"].expected == F + 24 * H


def test_a_reject_is_handed_on_and_the_ask_retried() -> None:
    t = tracks()
    t.add("BTC-USDT-PERP", F, 8, F)
    bad: list[Item] = [Reject("binance_usdm:rest", "invalid JSON", "<html>", AT)]
    assert t.answered("BTC-USDT-PERP", bad, 8, F + 8 * H + 5_000) == bad
    assert t.tracks["BTC-USDT-PERP"].ask_at == F + 8 * H + 20_000


def test_polls_of_a_round_are_spread_evenly_over_the_interval() -> None:
    assert slots(("A", "B", "C", "D"), 100.0, 60.0) == [(100.0, "A"), (115.0, "B"),
                                                         (130.0, "C"), (145.0, "D")]  # fmt: skip
    assert slots((), 0.0, 60.0) == []


def instrument(symbol: str, tick: str) -> Instrument:
    return Instrument("binance_usdm", symbol, AT, AT, symbol.replace("-", ""), "perpetual", "X",
                      "USDT", "USDT", Dec("1"), Dec(tick), Dec("0.001"), None, Hours(8),
                      "TRADING", f"{symbol}:{tick}")  # fmt: skip


def test_only_selected_contracts_whose_row_changed_are_written() -> None:
    rows: list[Item] = [instrument("A-USDT-PERP", "0.1"), instrument("B-USDT-PERP", "0.1"),
                        instrument("C-USDT-PERP", "0.1")]  # fmt: skip
    written = {"A-USDT-PERP": "A-USDT-PERP:0.1", "B-USDT-PERP": "B-USDT-PERP:0.01"}
    got = changed(rows, ["A-USDT-PERP", "B-USDT-PERP"], written)
    assert got == [rows[1]]  # A unchanged, C not selected


def test_funding_info_lists_intervals_and_a_malformed_answer_is_a_reject() -> None:
    body = b'[{"symbol":"BLZUSDT","adjustedFundingRateCap":"0.03","fundingIntervalHours":4}]'
    assert funding_intervals(body, AT) == {"BLZUSDT": 4}
    for bad in (b'{"code":-1}', b'[{"symbol":"X","fundingIntervalHours":"4"}]', b"<html>"):
        assert type(funding_intervals(bad, AT)) is Reject
