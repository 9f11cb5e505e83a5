"""Render a results JSON file as a console table or as Markdown (for docs/performance.md).

python -m benchmarks.report [benchmarks/results/latest.json] [--markdown]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import fmt


def _rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for m in result["measurements"]:
        target = m["target"]
        sign = "≥" if m["higher_is_better"] else "≤"
        rows.append(
            (
                m["benchmark"],
                m["name"],
                f"{fmt(m['value'])} {m['unit']}",
                "—" if target is None else f"{sign} {fmt(target)} {m['unit']}",
                m["verdict"],
            )
        )
    return rows


def _curve(result: dict[str, Any]) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Search p50 (ms) by shape label and scale."""
    scales: list[str] = []
    by_shape: dict[str, dict[str, float]] = {}
    for m in result["measurements"]:
        if m["benchmark"] != "search":
            continue
        scale = f"{m['details']['scale']:,}"
        if scale not in scales:
            scales.append(scale)
        label = m["name"].rsplit(" p50 @ ", 1)[0]
        by_shape.setdefault(label, {})[scale] = m["value"]
    return scales, by_shape


def console_report(result: dict[str, Any]) -> str:
    rows = [("benchmark", "measurement", "value", "target", "ratio"), *_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    scales, by_shape = _curve(result)
    if len(scales) > 1:
        lines += ["", "search p50 (ms, full API call) by store size:"]
        head = ["shape", *scales]
        table = [head] + [
            [label] + [fmt(v[s]) if s in v else "—" for s in scales]
            for label, v in by_shape.items()
        ]
        w = [max(len(r[i]) for r in table) for i in range(len(head))]
        lines += ["  ".join(c.ljust(x) for c, x in zip(r, w, strict=True)) for r in table]
    return "\n".join(lines)


def markdown_report(result: dict[str, Any]) -> str:
    out = ["| benchmark | measurement | value | target | ratio |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(c.strip() for c in row) + " |" for row in _rows(result)]
    scales, by_shape = _curve(result)
    if scales:
        out += ["", "| search shape (p50, ms) | " + " | ".join(scales) + " |"]
        out.append("|---|" + "---:|" * len(scales))
        for label, values in by_shape.items():
            cells = [fmt(values[s]) if s in values else "—" for s in scales]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report")
    parser.add_argument(
        "path", nargs="?", type=Path, default=Path("benchmarks/results/latest.json")
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    result = json.loads(args.path.read_text())
    print(markdown_report(result) if args.markdown else console_report(result))


if __name__ == "__main__":
    main()
