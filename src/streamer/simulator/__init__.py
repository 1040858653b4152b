"""The bundled exchange simulator: Binance, Coinbase and CoinGecko protocols on loopback.

`market.py` is the pure synthetic market; `binance_wire.py`, `coinbase_wire.py` and
`coingecko_wire.py` render it in each venue's exact wire format; `server.py` is the asyncio
shell that serves them all on one port (or replays recorded frames).
"""

from streamer.simulator.server import Simulator, SimulatorConfig, run_simulator

__all__ = ["Simulator", "SimulatorConfig", "run_simulator"]
