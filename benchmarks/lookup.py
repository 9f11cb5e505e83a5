"""Target 2: ``get_version("g/N")`` and ``get_version("g@alias")`` latency in a big store.

Each call is a full public API call (parse the reference, open a read transaction, resolve
the id, load the version with its files, metrics, params, tags, metadata and aliases).
References are drawn at random over all groups and numbers, so the page cache is as warm
as a long-running process makes it, but no two consecutive calls hit the same rows.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from benchmarks.common import Measurement, log, summary_ms
from benchmarks.populate import ALIASES, Store
from benchmarks.sqlcount import count_sql

P50_TARGET_MS = 1.0
P99_TARGET_MS = 5.0
WARMUP = 200


def run_lookup(store: Store, calls: int) -> list[Measurement]:
    rng = random.Random(2)
    reg = store.open()
    try:
        latest = {g: reg.get_group(g).latest_version for g in store.group_names}
        groups = list(store.group_names)

        def by_number() -> str:
            group = rng.choice(groups)
            return f"{group}/{rng.randint(1, latest[group])}"

        def by_alias() -> str:
            return f"{rng.choice(groups)}@{rng.choice(ALIASES)}"

        def by_latest() -> str:
            return f"{rng.choice(groups)}@latest"

        shapes: list[tuple[str, Callable[[], str], bool]] = [
            ('get_version("g/N")', by_number, True),
            ('get_version("g@alias")', by_alias, True),
            ('get_version("g@latest")', by_latest, False),
        ]
        results: list[Measurement] = []
        for label, make_ref, has_target in shapes:
            log(f"{label} x {calls} over {store.scale:,} versions")
            refs = [make_ref() for _ in range(WARMUP + calls)]
            samples = []
            with count_sql() as sql:
                for i, ref in enumerate(refs):
                    start = time.perf_counter()
                    reg.get_version(ref)
                    if i >= WARMUP:
                        samples.append(time.perf_counter() - start)
            stats = summary_ms(samples)
            per_call = sql.statements / len(refs)
            details = {"scale": store.scale, "latency": stats, "sql_statements_per_call": per_call}
            for quantile, target in (("p50", P50_TARGET_MS), ("p99", P99_TARGET_MS)):
                results.append(
                    Measurement(
                        "lookup",
                        f"{label} {quantile} @ {store.scale:,}",
                        stats[f"{quantile}_ms"],
                        "ms",
                        target if has_target else None,
                        higher_is_better=False,
                        details=details,
                    )
                )
    finally:
        reg.close()
    return results
