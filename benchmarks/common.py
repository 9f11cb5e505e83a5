"""What every benchmark shares: a measurement with its target, percentiles, a stopwatch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Measurement:
    """One number, compared with its target.

    ``ratio`` is always "how many times better than the target": value/target when higher
    is better (throughput), target/value when lower is better (latency). ≥ 1.0 is met.
    """

    benchmark: str
    name: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.target is None or self.value <= 0:
            return None
        return self.value / self.target if self.higher_is_better else self.target / self.value

    @property
    def verdict(self) -> str:
        ratio = self.ratio
        if self.target is not None and self.value <= 0 and not self.higher_is_better:
            return "met (measured 0)"
        if ratio is None:
            return "(no target)"
        return f"{ratio:.2f}x the target" if ratio >= 1 else f"{ratio:.2f}x — MISSED"

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "—"
        sign = "≥" if self.higher_is_better else "≤"
        return f"{sign} {fmt(self.target)} {self.unit}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio, "verdict": self.verdict}


def fmt(value: float) -> str:
    """A number with about three significant digits, without exponent noise."""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, 2 - magnitude)
    return f"{value:,.{decimals}f}"


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds of durations given in seconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "mean_ms": sum(ms) / len(ms),
    }


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def log(message: str) -> None:
    """Progress output (flushed: runs are long and often piped through tee)."""
    print(f"  · {message}", flush=True)
