"""What a Kraken `book` subscriber at one depth has been told of a pair (pure).

Kraken sends the levels of the subscribed depth: a snapshot, then on every change an update
holding each level of that window whose quantity changed or that entered it (a level further
out moving in when one inside is removed), and `qty` 0 for each level removed from the book.
A level *pushed out* of the window by a better one arriving gets no message: the client
truncates its book to the depth (docs.kraken.com "Book checksum (WebSocket v2)": "you won't
receive `qty: 0` for price levels that fall out of scope"). `DepthView.update` computes exactly
that from the market, so a client that applies every level and truncates holds the window.
"""

from __future__ import annotations

from streamer.simulator.market import Market

Level = tuple[int, int]  # (price ticks, quantity units)


class DepthView:
    """The window of `depth` levels a side last sent for one pair."""

    __slots__ = ("asks", "bids", "depth")

    def __init__(self, market: Market, depth: int) -> None:
        self.depth = depth
        self.bids: dict[int, int] = dict(market.top("bid", depth))
        self.asks: dict[int, int] = dict(market.top("ask", depth))

    def snapshot(self) -> tuple[list[Level], list[Level]]:
        """The window, best first."""
        return (sorted(self.bids.items(), reverse=True), sorted(self.asks.items()))

    def update(self, market: Market) -> tuple[list[Level], list[Level]]:
        """The levels an update carries now (both empty: nothing in the window changed), and
        the window moves on to the market's."""
        bids = _changed(self.bids, market.top("bid", self.depth), market.bids)
        asks = _changed(self.asks, market.top("ask", self.depth), market.asks)
        return (sorted(bids, reverse=True), sorted(asks))


def _changed(sent: dict[int, int], top: list[Level], book: dict[int, int]) -> list[Level]:
    out = [(p, q) for p, q in top if sent.get(p) != q]
    window = dict(top)
    out += [(p, 0) for p in sent if p not in window and p not in book]  # removed, not pushed out
    sent.clear()
    sent.update(window)
    return out
