"""What each setting accepts: one rule per setting, shared by every front door.

    LR = number(low=0, low_open=True)      # a rule: its type and range, phrased once
    LR.coerce("lr", 0.01)                  # -> 0.01; "0.01", True, [0.01] -> ConfigError in one line
    LR.check("lr", -1)                     # coerce, then the range -> ConfigError "lr must be a number > 0, got -1"
    LR.parse("lr", "1e-3")                 # command-line text -> the checked value

The config dataclasses (trainer.config) hang a rule on each field: constructing a config coerces every field
(so a string where a number belongs never gets in, and a list becomes a tuple), and `validate()` checks every
range. The CLI's argparse types, the Python API's keyword arguments, the window's settings and the fields of a
checkpoint all go through the same rules, so a rule exists once.

Numbers are bounded by what the engine can compute with: float32 arithmetic (a weight of 1e308 would only
overflow the loss to inf later) and int64 step counters.
"""

from __future__ import annotations

import math
import numbers as _numbers
from dataclasses import dataclass
from typing import Any, Callable

from trainer.errors import ConfigError

FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite float32: the engine computes in float32, so a setting beyond it would overflow to inf."""
MAX_STEPS = 10**12
"""A bound on step counts (schedules, warm-ups): far past any run, well inside int64 and exact in float64."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _whole(value: Any) -> int | None:
    """value as a Python int when it is a whole number (int, numpy integer, a float with no fraction), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, _numbers.Integral):
        return int(value)
    if isinstance(value, _numbers.Real) and not isinstance(value, bool):
        f = float(value)
        if math.isfinite(f) and f.is_integer() and abs(f) <= 2**53:
            return int(f)
    return None


def _real(value: Any) -> float | None:
    """value as a Python float when it is a real number (not a bool, not text), else None."""
    if isinstance(value, bool) or value is None or not isinstance(value, _numbers.Real):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):  # an int of 400 digits
        return math.inf if value > 0 else -math.inf


@dataclass(frozen=True)
class Rule:
    """One setting's type and range; `need` says it in words ("a whole number in 1..512")."""

    need: str
    coerce_one: Callable[[Any], Any]
    """value -> the canonical value, or None when the type is wrong."""
    ok: Callable[[Any], bool] = lambda v: True
    """Whether a coerced value is in range."""
    from_text: Callable[[str], Any] | None = None
    """Command-line text -> a value to coerce (None: the text itself)."""
    why: Callable[[Any], str] = lambda v: ""
    """For a coerced value out of range, what is wrong with it when `need` alone would not say (an overflow)."""

    def coerce(self, name: str, value: Any) -> Any:
        """The value in its canonical type (tuple, int, float, str, bool); a ConfigError if it is of another type."""
        out = self.coerce_one(value)
        if out is None:
            raise ConfigError(f"{name} must be {self.need}, got {_shown(value)}")
        return out

    def check(self, name: str, value: Any, given: Any = None) -> Any:
        """coerce, then the range: the value a config may hold (`given`: what to quote instead of `value`)."""
        out = self.coerce(name, value)
        if not self.ok(out):
            why = self.why(out)
            raise ConfigError(f"{name} must be {self.need}, got {_shown(value if given is None else given)}"
                              + (f" ({why})" if why else ""))
        return out

    def parse(self, name: str, text: str) -> Any:
        """A command-line value: text -> the checked value."""
        if self.from_text is None:
            return self.check(name, text)
        try:
            value = self.from_text(text)
        except (ValueError, OverflowError):
            raise ConfigError(f"{name} must be {self.need}, got {_shown(text)}") from None
        return self.check(name, value, given=text)


def whole(low: int = 0, high: int = MAX_STEPS, what: str = "a whole number") -> Rule:
    def parse(text: str) -> int:
        return int(text.strip())
    return Rule(f"{what} in {low}..{high}", _whole, lambda v: low <= v <= high, parse)


def _overflow(values) -> str:
    if any(math.isfinite(v) and abs(v) > FLOAT32_MAX for v in values):
        return f"beyond {FLOAT32_MAX:.4g}, float32's largest number, the engine's arithmetic overflows to inf"
    return ""


def number(low: float = 0.0, high: float = FLOAT32_MAX, low_open: bool = False) -> Rule:
    """A finite real number in [low, high] ((low, high] with low_open); high defaults to float32's largest."""
    need = f"a number {'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high != FLOAT32_MAX else "")

    def ok(v: float) -> bool:
        return math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    return Rule(need, _real, ok, float, lambda v: _overflow([v]))


def choice(options: tuple[str, ...]) -> Rule:
    return Rule(f"one of {', '.join(options)}", lambda v: v if isinstance(v, str) else None,
                lambda v: v in options, str.strip)


_FLAG_TEXT = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def flag() -> Rule:
    def coerce(v):
        return bool(v) if isinstance(v, bool) or type(v).__name__ == "bool_" else None

    def parse(t: str) -> bool:
        if t.strip().lower() not in _FLAG_TEXT:
            raise ValueError(t)
        return _FLAG_TEXT[t.strip().lower()]
    return Rule("true or false", coerce, from_text=parse)


def text(max_chars: int = 4096, ok: Callable[[str], bool] = lambda v: True, need: str = "text") -> Rule:
    return Rule(f"{need} (at most {max_chars} characters)", lambda v: v if isinstance(v, str) else None,
                lambda v: len(v) <= max_chars and ok(v))


def _sequence(value: Any, item: Callable[[Any], Any]) -> tuple | None:
    """A list, tuple or 1-D array of items, each coerced, as a tuple; text and other types -> None."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        return None
    if getattr(value, "ndim", 1) != 1 or len(value) > 1024:
        return None
    out = tuple(item(v) for v in value)
    return None if any(v is None for v in out) else out


def wholes(low: int, high: int, min_len: int = 0, max_len: int = 8, single: bool = False,
           what: str = "whole numbers") -> Rule:
    """A sequence of whole numbers in low..high, min_len to max_len of them; `single` also takes one number."""
    count = f"{max_len}" if min_len == max_len else f"{min_len} to {max_len}"

    def coerce(v):
        if single and _whole(v) is not None:
            return (_whole(v),)
        return _sequence(v, _whole)

    def ok(v):
        return min_len <= len(v) <= max_len and all(low <= x <= high for x in v)

    def parse(t: str) -> tuple:
        return tuple(int(s) for s in t.split(",") if s.strip())
    return Rule(f"{count} {what} in {low}..{high} (a list or tuple; on the command line, comma-separated)",
                coerce, ok, parse)


def numbers(low: float = 0.0, high: float = FLOAT32_MAX, max_len: int = 8, what: str = "numbers") -> Rule:
    """A sequence of finite numbers in [low, high], at most max_len of them."""
    def ok(v):
        return len(v) <= max_len and all(math.isfinite(x) and low <= x <= high for x in v)

    def parse(t: str) -> tuple:
        return tuple(float(s) for s in t.split(",") if s.strip())
    return Rule(f"up to {max_len} {what} >= {low:g} (a list or tuple; on the command line, comma-separated)",
                lambda v: _sequence(v, _real), ok, parse, _overflow)


def path_of(name: str, value: Any, allow_none: bool = False):
    """A path argument (str or os.PathLike) as a pathlib.Path; None only when `allow_none`; else a ConfigError."""
    import os
    from pathlib import Path

    if value is None and allow_none:
        return None
    if isinstance(value, str) and value.strip() or isinstance(value, os.PathLike):
        return Path(value)
    raise ConfigError(f"{name} must be a path (a non-empty str or os.PathLike), got {type(value).__name__} "
                      f"{_shown(value)}")


def check_options(name: str, options: dict[str, Any], allowed) -> None:
    """A ConfigError naming the first keyword argument of `name` that it does not take."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{name} takes no option {unknown[0]!r}; it takes {', '.join(sorted(allowed))}")
