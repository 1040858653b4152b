"""Reading one setting: the environment, then the TOML table, then the default, validated.

`Reader` is what every settings builder uses, the core's (`settings.py`) and each venue's
(`venues/<venue>/settings.py`): a bad value raises `ConfigError` naming the variable and the
fix, and every name looked up must be a documented setting (`known`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from streamer.errors import ConfigError
from streamer.selectors import Selector, parse_selector

_SYMBOL = re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}")


PREFIX = "STREAMER_"


def var(name: str) -> str:
    """`binance_symbols` -> `STREAMER_BINANCE_SYMBOLS`."""
    return f"{PREFIX}{name.upper()}"


class Reader:
    """Looks a setting up in the environment, then the TOML table, and validates it."""

    def __init__(
        self, env: Mapping[str, str], toml: Mapping[str, Any], known: Collection[str]
    ) -> None:
        self.env = env
        self.toml = toml
        self.known = known
        self.read: set[str] = set()

    def raw(self, name: str) -> Any:
        if name not in self.known:
            raise KeyError(f"setting {name!r} is not documented (settings_spec or a venue's rows)")
        self.read.add(name)
        key = var(name)
        if key in self.env and self.env[key].strip() != "":
            return self.env[key].strip()
        return self.toml.get(name.lower())

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ConfigError(var(name), f"expected text, got {value!r}", "Quote the value.")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise ConfigError(
                var(name), f"{value!r} is not allowed", f"Use one of: {', '.join(allowed)}."
            )
        return value

    def items(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
        elif isinstance(value, list) and all(isinstance(p, str) for p in value):
            parts = [p.strip() for p in value]
        else:
            raise ConfigError(var(name), f"expected a list, got {value!r}", "Use a, b, c.")
        parts = [p for p in parts if p]
        if len(set(parts)) != len(parts):
            raise ConfigError(var(name), "lists an item twice", "Remove the duplicate.")
        return tuple(parts)

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(var(name), f"{value!r} is not a number", "Use e.g. 1.5.") from None
        if not low <= number <= high:
            raise ConfigError(
                var(name), f"{number:g} is out of range", f"Use a value from {low:g} to {high:g}."
            )
        return number

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        number = self.number(name, default, low, high)
        if number != int(number):
            raise ConfigError(var(name), f"{number:g} is not a whole number", "Use e.g. 20.")
        return int(number)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(var(name), f"{value!r} is not a boolean", "Use true or false.")

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ConfigError(
                var(name),
                f"{value!r} is not a {'/'.join(schemes)} URL",
                f"Use e.g. {default}.",
            )
        return value

    def market(
        self,
        name: str,
        default: tuple[str, ...],
        *,
        pattern: re.Pattern[str] = _SYMBOL,
        shape: str = "BASE-QUOTE in upper case, e.g. BTC-USDT",
        kinds: Sequence[str] = (),
    ) -> tuple[tuple[str, ...], Selector | None]:
        """An explicit list of normalized symbols (each matching `pattern`, described by
        `shape`), or (no symbols yet, the selector naming them: `all`, `quote:<Q>`,
        `top:<N>`, and the venue's contract `kinds`)."""
        tokens = self.items(name, default)
        selector = parse_selector(tokens, var(name), kinds)
        if selector is not None:
            return (), selector
        for symbol in tokens:
            if not pattern.fullmatch(symbol):
                raise ConfigError(
                    var(name), f"{symbol!r} is not a normalized symbol", f"Write {shape}."
                )
        return tokens, None
