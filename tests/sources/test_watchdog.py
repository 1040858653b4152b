"""The silence watchdog (pure): fed frame times from a fake clock, it names the streams that
went quiet, answers `due` at most once a second, and starts over on a new connection."""

from __future__ import annotations

from streamer.sources.watchdog import SilenceWatchdog

STREAMS = ("btcusdt@ticker", "btcusdt@depth20@100ms", "ethusdt@ticker")


def test_a_stream_is_silent_only_once_past_the_limit() -> None:
    dog = SilenceWatchdog(STREAMS, 30.0)
    dog.restart(100.0)
    assert dog.silent(130.0) == []  # exactly the limit is not yet silent
    assert dog.silent(130.5) == list(STREAMS)  # never heard on this connection
    for stream in STREAMS:
        dog.heard(stream, 130.5)
    dog.heard("ethusdt@ticker", 150.0)
    assert dog.silent(160.5) == []
    assert dog.silent(160.6) == ["btcusdt@ticker", "btcusdt@depth20@100ms"]
    assert dog.silent(180.1) == list(STREAMS)


def test_silent_streams_are_listed_in_the_order_given() -> None:
    dog = SilenceWatchdog(reversed(STREAMS), 1.0)
    assert dog.streams == tuple(reversed(STREAMS))
    assert dog.silent(2.0) == list(reversed(STREAMS))


def test_streams_not_watched_are_ignored() -> None:
    dog = SilenceWatchdog(STREAMS[:1], 5.0)
    dog.heard("btcusdt@trade", 1.0)  # a quiet trade stream is a quiet market, not a fault
    assert dog.silent(5.5) == ["btcusdt@ticker"]
    assert not dog.all_heard


def test_all_heard_once_every_watched_stream_delivered_since_the_restart() -> None:
    dog = SilenceWatchdog(STREAMS, 30.0)
    dog.restart(0.0)
    for stream in STREAMS[:-1]:
        dog.heard(stream, 1.0)
        dog.heard(stream, 2.0)  # a stream heard twice still counts once
    assert not dog.all_heard
    dog.heard(STREAMS[-1], 3.0)
    assert dog.all_heard
    dog.restart(4.0)  # a new connection has delivered nothing yet
    assert not dog.all_heard


def test_restart_forgets_the_old_connection() -> None:
    dog = SilenceWatchdog(STREAMS, 10.0)
    dog.restart(0.0)
    dog.heard("btcusdt@ticker", 9.0)
    dog.restart(50.0)  # every stream counts from the new connection's start
    assert dog.silent(60.0) == []
    assert dog.silent(60.1) == list(STREAMS)


def test_due_checks_at_most_once_per_interval() -> None:
    dog = SilenceWatchdog(STREAMS, 2.0, every=1.0)
    dog.restart(0.0)
    assert dog.due(0.9) == []  # too soon to look
    assert dog.due(1.0) == []  # looked: nothing silent yet
    assert dog.due(1.5) == []
    assert dog.due(2.5) == list(STREAMS)  # looked again
    assert dog.due(3.0) == []  # silent, but checked 0.5 s ago


def test_a_stream_silent_on_the_fresh_connection_too_turns_quiet_until_heard() -> None:
    """A halted or illiquid symbol stays silent whatever the connection: it is named once (a
    reconnect may help), then kept quiet instead of making the feed reconnect forever."""
    first, second = STREAMS[0], STREAMS[1]
    dog = SilenceWatchdog(STREAMS, 2.0, every=1.0)
    dog.restart(0.0)
    assert dog.due(2.5) == list(STREAMS)  # the shell reconnects
    dog.restart(2.6)
    dog.heard(first, 3.0)  # the reconnect helped this one
    assert dog.due(5.0) == []  # the others were silent again: quiet, no reconnect
    assert dog.quiet == set(STREAMS[1:])
    assert dog.due(9.0) == [first]  # first went silent later: a new episode, named
    dog.heard(second, 9.5)
    assert second not in dog.quiet
    assert dog.due(12.0) == [second]


def test_an_empty_watchdog_is_never_silent_and_always_ready() -> None:
    dog = SilenceWatchdog((), 1.0)
    assert dog.all_heard
    assert dog.due(100.0) == []
