"""How `quality` explains the lake's missing ranges, and what the lake says of each hole (pure).

Ranges are inclusive and on a grid: trade ids one apart, candles' open times `step` ms apart.
A missing range is cut where the holes `quality` reported cover part of it, so each piece is
either explained (with the hole's reason) or not. A hole reported that day is then checked
against the lake: it explains a missing range, or its ids are all in the lake (recovered after
all), or the lake cannot tell.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamer.audit.findings import (
    HOLE_EXPLAINS,
    HOLE_RECOVERED,
    HOLE_UNCHECKED,
    Hole,
    Span,
)


def _count(first: int, last: int, step: int) -> int:
    return (last - first) // step + 1


def _up(value: int, origin: int, step: int) -> int:
    """The first grid point (`origin + k * step`) at or after `value`."""
    return origin + -(-(value - origin) // step) * step


def _down(value: int, origin: int, step: int) -> int:
    return origin + (value - origin) // step * step


def cut(first: int, last: int, step: int, holes: Sequence[Hole]) -> tuple[Span, ...]:
    """The missing range `first..last`, in pieces: those the holes cover carry the first
    covering hole's reason, the rest none."""
    pieces: list[Span] = []
    cursor = first
    for hole in sorted(holes, key=lambda h: (h.first, h.last)):
        lo = max(cursor, _up(hole.first, first, step))
        hi = min(last, _down(hole.last, first, step))
        if hi < lo:
            continue
        if lo > cursor:
            pieces.append(Span(cursor, lo - step, _count(cursor, lo - step, step)))
        pieces.append(Span(lo, hi, _count(lo, hi, step), hole.reason))
        cursor = hi + step
        if cursor > last:
            break
    if cursor <= last:
        pieces.append(Span(cursor, last, _count(cursor, last, step)))
    return tuple(pieces)


def explain(gaps: Sequence[tuple[int, int]], step: int, holes: Sequence[Hole]) -> tuple[Span, ...]:
    """Every missing range cut by the holes (`cut`), in order."""
    return tuple(piece for first, last in sorted(gaps) for piece in cut(first, last, step, holes))


def check(
    hole: Hole, gaps: Sequence[tuple[int, int]], span: tuple[int, int] | None, complete: bool
) -> str:
    """What the lake says of `hole`: it covers one of the lake's missing `gaps` (explains),
    it lies within the `span` the lake checked and every missing range there is listed
    (`complete`) so the lake holds its ids (recovered), or neither (unchecked)."""
    if any(hole.first <= last and first <= hole.last for first, last in gaps):
        return HOLE_EXPLAINS
    if span is not None and complete and span[0] <= hole.first and hole.last <= span[1]:
        return HOLE_RECOVERED
    return HOLE_UNCHECKED
