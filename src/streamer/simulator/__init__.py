"""The bundled exchange simulator: Binance, Coinbase and CoinGecko protocols on loopback.

- `market.py`: the pure synthetic market; `binance_wire.py`, `coinbase_wire.py` and
  `coingecko_wire.py` render it in each venue's exact wire format (pure).
- `binance.py`, `coinbase.py`, `coingecko.py`: each venue's WebSocket session, fan-out, REST
  routes and market feed, behind the small protocols of `venue.py` (which also drives markets).
- `listing.py`: what each venue lists: the configured symbols plus N generated ones
  (`binance_markets`, `coinbase_markets`) with deterministic names, statuses and skewed activity.
- `limits.py`: the venues' limits (`SimulatorConfig.limits`), pure, and the tally of breaches
  (`Simulator.breaches.counts`, each logged once per connection as `simulator.limit`).
- `outbox.py`: each connection's bounded send queue and the sender that injects the faults
  planned in `faults.py`; `truth.py`: what was sent, for tests; `replay.py`: recorded frames.
- `server.py`: serving on one port, routing to the venues, lifecycle and the replay switch.
- `firehose.py`: a Firehose endpoint on loopback (separate from the exchange simulator).
"""

from streamer.simulator.server import Simulator, SimulatorConfig, run_simulator

__all__ = ["Simulator", "SimulatorConfig", "run_simulator"]
