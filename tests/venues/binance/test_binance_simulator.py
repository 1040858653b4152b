"""The simulated diff stream is one a client can keep a book from: each `<s>@depth@100ms`
event applied on the book at its `U` - 1 gives the venue's book at its `u`, also when the
stream's only subscriber left and came back while the event was under way (a reconnect)."""

from __future__ import annotations

import random

import orjson

from streamer.simulator.market import Market
from streamer.simulator.outbox import Connection
from streamer.simulator.truth import Truth
from streamer.simulator.venue import Context, VenueConfig
from streamer.venues.binance import sim_wire
from streamer.venues.binance.simulator import Binance, simulate

STREAM = "btcusdt@depth@100ms"


def book(market: Market) -> dict[tuple[str, str], str]:
    """The whole book as the wire writes it: (side, price) -> size."""
    depth = sim_wire.depth(market, 100_000)
    return {("b", p): q for p, q in depth["bids"]} | {("a", p): q for p, q in depth["asks"]}


def connection(number: int) -> Connection:
    return Connection(ws=None, number=number, opened=0.0)  # type: ignore[arg-type]


def steps(venue: Binance, market: Market, count: int, now: int) -> None:
    for _ in range(count):
        changes, trade = market.step()
        venue.event(market, changes, trade, now)


def test_a_diff_under_way_keeps_the_changes_made_while_its_subscriber_was_away() -> None:
    clock = [1_764_892_800_000]
    context = Context(lambda: clock[0], random.Random(1), 0.0, 1, Truth(1000), None)
    venue = simulate(VenueConfig(("BTC-USDT",)), context)
    market = venue.markets["BTC-USDT"]
    venue.tick(market, clock[0])  # the first depth slot passes with no diff under way
    before, start = book(market), market.sequence
    first = connection(1)
    venue.subscribers[STREAM] = {first}
    steps(venue, market, 5, clock[0])
    del venue.subscribers[STREAM]  # a cut: nobody subscribes for a while
    steps(venue, market, 30, clock[0])
    again = connection(2)
    venue.subscribers[STREAM] = {again}  # the client is back before the event is sent
    steps(venue, market, 5, clock[0])
    clock[0] += 200
    venue.tick(market, clock[0])
    [frame] = again.outbox.items
    event = orjson.loads(frame)["data"]
    assert event["U"] == start + 1 and event["u"] == market.sequence
    levels = dict(before)
    for side in ("b", "a"):
        for price, size in event[side]:
            levels[(side, price)] = size
    assert {k: v for k, v in levels.items() if float(v)} == book(market)


def test_changes_nobody_could_receive_leave_a_gap_in_the_ids() -> None:
    clock = [1_764_892_800_000]
    context = Context(lambda: clock[0], random.Random(2), 0.0, 2, Truth(1000), None)
    venue = simulate(VenueConfig(("BTC-USDT",)), context)
    market = venue.markets["BTC-USDT"]
    venue.tick(market, clock[0])
    steps(venue, market, 30, clock[0])  # nobody subscribed: no diff starts
    missed = market.sequence
    client = connection(1)
    venue.subscribers[STREAM] = {client}
    steps(venue, market, 5, clock[0])
    clock[0] += 200
    venue.tick(market, clock[0])
    [frame] = client.outbox.items
    assert orjson.loads(frame)["data"]["U"] > missed  # a client at `missed` - k sees the gap
