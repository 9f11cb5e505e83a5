"""The HTTP benchmark's metrics and targets, and its side-by-side table (modelyard, MLflow,
modelyard vs MLflow, target, met?) for the console or Markdown.

python -m benchmarks.http_report [benchmarks/results/latest.json] [--markdown]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import fmt

REFERENCE = "reference, not measured in this run"


@dataclass(frozen=True, slots=True)
class Metric:
    """One row: where its value is in a side's raw results, and its target — ``factor``
    times better than MLflow, an absolute ``limit``, or a fraction of the sha256 rate.
    ``reference`` is MLflow's known figure on this machine (from the issue), shown only
    when MLflow was not measured in the run."""

    key: str
    label: str
    unit: str
    source: str
    higher_is_better: bool
    factor: float | None = None
    limit: float | None = None
    limit_of_sha256: float | None = None
    reference: float | None = None

    def goal_text(self, sha256_mib_s: float) -> str:
        if self.factor is not None:
            better = "MLflow's rate" if self.higher_is_better else "faster than MLflow"
            return f"≥ {self.factor:g}x {better}"
        if self.limit_of_sha256 is not None:
            limit = self.limit_of_sha256 * sha256_mib_s
            return f"≥ {self.limit_of_sha256:.0%} of sha256 = {fmt(limit)} {self.unit}"
        if self.limit is not None:
            sign = "≥" if self.higher_is_better else "≤"
            return f"{sign} {fmt(self.limit)} {self.unit}"
        return "—"


def _m(key: str, label: str, unit: str, source: str, higher: bool, **kw: Any) -> Metric:
    return Metric(key, label, unit, source, higher, **kw)


REG1, REGC = "register small version, 1 client", "register small version, {c} clients"
METRICS = (
    _m("reg_seq_rate", f"{REG1}: rate", "versions/s", "register_seq.rate_per_s", True,
       factor=10, reference=87),
    _m("reg_seq_p50", f"{REG1}: p50", "ms", "register_seq.latency.p50_ms", False),
    _m("reg_seq_p99", f"{REG1}: p99", "ms", "register_seq.latency.p99_ms", False, limit=50),
    _m("reg_conc_rate", f"{REGC}: rate", "versions/s", "register_conc.rate_per_s", True,
       factor=10, reference=89),
    _m("reg_conc_p50", f"{REGC}: p50", "ms", "register_conc.latency.p50_ms", False),
    _m("reg_conc_p99", f"{REGC}: p99", "ms", "register_conc.latency.p99_ms", False, limit=50,
       reference=1000),
    _m("set_tag_rate", "set tag at {n:,} versions: rate", "calls/s", "set_tag.rate_per_s", True,
       factor=50, reference=16),
    _m("set_alias_rate", "set alias at {n:,} versions: rate", "calls/s",
       "set_alias.rate_per_s", True, factor=50, reference=13),
    _m("get_p50", "get version (g/N): p50", "ms", "get_version.latency.p50_ms", False,
       limit=3, reference=11.5),
    _m("alias_p50", "resolve alias (g@alias): p50", "ms", "resolve_alias.latency.p50_ms",
       False, limit=3),
    _m("search_ms", "search returning {rows:,} rows: p50", "ms", "search.latency.p50_ms",
       False, factor=10, reference=190),
    _m("upload_mib_s", "upload {mib:,} MiB: rate", "MiB/s", "transfer.upload_mib_s", True,
       limit_of_sha256=0.7, reference=317),
    _m("download_mib_s", "download {mib:,} MiB: rate", "MiB/s", "transfer.download_mib_s", True,
       limit_of_sha256=0.7),
    _m("upload_rss", "server RSS growth during upload", "MiB", "transfer.upload_rss_growth_mib",
       False, limit=100),
    _m("download_rss", "server RSS growth during download", "MiB",
       "transfer.download_rss_growth_mib", False, limit=100),
    _m("idle_rss", "idle server RSS (process tree)", "MiB", "idle.rss_mib", False, limit=150,
       reference=2.3 * 1024),
    _m("start_first", "first start (fresh store) to health", "s", "start_first_s", False,
       limit=1.5, reference=7.0),
    _m("start_restart", "restart (same store) to health", "s", "start_restart_s", False,
       limit=1.5, reference=7.0),
)  # fmt: skip


def _vs(m: dict[str, Any]) -> str:
    vs = m["details"].get("vs_mlflow")
    if not vs:
        return "—"
    return f"{vs:.2f}x better" if vs >= 1 else f"{1 / vs:.2f}x worse"


def _met(m: dict[str, Any], markdown: bool) -> str:
    ratio = m["ratio"]
    if m["target"] is None:
        return "—"
    if ratio is None:
        return "yes" if not m["higher_is_better"] else "—"
    if ratio >= 100:
        return "yes (>100x)"
    if ratio >= 1:
        return f"yes ({ratio:.2f}x)"
    return f"**NO** ({ratio:.2f}x)" if markdown else f"NO ({ratio:.2f}x)"


def rows(measurements: list[dict[str, Any]], markdown: bool = False) -> list[list[str]]:
    out = []
    for m in measurements:
        if m["benchmark"] != "http" or "key" not in m["details"]:
            continue
        d = m["details"]
        theirs = "—"
        if d.get("mlflow") is not None:
            theirs = f"{fmt(d['mlflow'])} {m['unit']}"
            if d["mlflow_source"] == REFERENCE:
                theirs += f" ({REFERENCE})"
        ours = f"{fmt(m['value'])} {m['unit']}"
        out.append([m["name"], ours, theirs, _vs(m), d["goal"], _met(m, markdown)])
    return out


HEAD = ["metric", "modelyard", "MLflow", "modelyard vs MLflow", "target", "met?"]


def console_table(measurements: list[dict[str, Any]]) -> str:
    table = [HEAD, *rows(measurements)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEAD))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    extra = [m for m in measurements if m["benchmark"] == "http" and "key" not in m["details"]]
    lines += [f"{m['name']}: {fmt(m['value'])} {m['unit']}" for m in extra]
    return "\n".join(lines)


def markdown_table(measurements: list[dict[str, Any]]) -> str:
    out = ["| " + " | ".join(HEAD) + " |", "|---|---:|---:|---|---|---|"]
    out += ["| " + " | ".join(r) + " |" for r in rows(measurements, markdown=True)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_report")
    parser.add_argument(
        "path", nargs="?", type=Path, default=Path("benchmarks/results/latest.json")
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    measurements = json.loads(args.path.read_text())["measurements"]
    print(markdown_table(measurements) if args.markdown else console_table(measurements))


if __name__ == "__main__":
    main()
