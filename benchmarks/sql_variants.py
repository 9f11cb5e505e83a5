"""The search SQL as compiled today vs. hand-written alternatives (suggested fixes).

Not a target: evidence for the changes proposed in docs/performance.md. "current" is the
exact SQL ``modelyard.store.search.search_query`` compiles (run with bound parameters, as
``search_versions`` runs it); "proposed" is the same query rewritten. Both must return the
same rows, which is checked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from benchmarks.common import Measurement, log, percentile
from benchmarks.populate import RARE_OWNER, Store
from modelyard.domain.search import parse_filter, parse_order_by
from modelyard.store.database import Database
from modelyard.store.search import search_query

SELECT = (
    "SELECT m.value, v.id FROM versions v JOIN groups g ON g.id = v.group_id "
    "JOIN version_metrics m ON m.version_id = v.id AND m.key = 'auc'{on} WHERE {where} "
    "ORDER BY m.value DESC, v.id DESC LIMIT 51"
)
# A tag with today's semantics: the version's own tag, else its group's tag.
OWN_OR_GROUP_TAG = (
    "(EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.key = ? "
    "AND t.value = ?) OR (NOT EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id "
    "AND t.key = ?) AND EXISTS (SELECT 1 FROM group_tags gt WHERE gt.group_id = v.group_id "
    "AND gt.key = ? AND gt.value = ?)))"
)
# The same when no group has a tag with that key (checkable when the query is compiled).
TAG_IN = "v.id IN (SELECT version_id FROM version_tags WHERE key = ? AND value = ?)"
ORDER = "metrics.auc desc"


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    label: str
    filter: str
    after: tuple[float, int] | None  # a keyset cursor position (auc, version id)
    proposed_sql: str
    proposed_params: tuple[Any, ...]


def _tag_params(key: str, value: str) -> tuple[str, ...]:
    return (key, value, key, key, value)


VARIANTS = (
    Variant(
        "range_pushdown_target",
        "THE TARGET query, metric range pushed into the ORDER BY join",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        None,
        SELECT.format(on=" AND m.value >= ?", where=OWN_OR_GROUP_TAG),
        (0.9, *_tag_params("team", "risk")),
    ),
    Variant(
        "range_pushdown_high",
        "high metric threshold, metric range pushed into the ORDER BY join",
        "metrics.auc >= 0.9995 and tags.team = 'risk'",
        None,
        SELECT.format(on=" AND m.value >= ?", where=OWN_OR_GROUP_TAG),
        (0.9995, *_tag_params("team", "risk")),
    ),
    Variant(
        "tag_in_selective",
        "selective tag as IN (tag index), no group fallback",
        "tags.owner = 'owner-017'",
        None,
        SELECT.format(on="", where=TAG_IN),
        ("owner", "owner-017"),
    ),
    Variant(
        "tag_in_rare",
        "rare tag as IN (tag index), no group fallback",
        f"tags.owner = '{RARE_OWNER}'",
        None,
        SELECT.format(on="", where=TAG_IN),
        ("owner", RARE_OWNER),
    ),
    Variant(
        "tag_in_common",
        "CAVEAT: common tag (20%) as IN + range (materialises the IN list)",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        None,
        SELECT.format(on=" AND m.value >= ?", where=TAG_IN),
        (0.9, "team", "risk"),
    ),
    Variant(
        "keyset_bound",
        "page after auc = 0.95, keyset with a redundant m.value <= ? bound",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        (0.95, 10**9),
        SELECT.format(
            on=" AND m.value >= ?",
            where=OWN_OR_GROUP_TAG + " AND m.value <= ? AND (m.value < ? OR "
            "(m.value = ? AND v.id < ?))",
        ),
        (0.9, *_tag_params("team", "risk"), 0.95, 0.95, 0.95, 10**9),
    ),
)


def run_sql_variants(store: Store, *, reps: int, budget_s: float) -> list[Measurement]:
    db = Database(store.db_url)
    results = []
    try:
        with db.transaction(write=False) as conn:
            for variant in VARIANTS:
                log(f"sql variant {variant.key} @ {store.scale:,}")
                sql, params = _current(conn, variant)
                current, current_rows = _time(conn, sql, params, reps, budget_s)
                proposed, proposed_rows = _time(
                    conn, variant.proposed_sql, variant.proposed_params, reps, budget_s
                )
                results.append(
                    Measurement(
                        "sql_variants",
                        f"{variant.label} @ {store.scale:,}: "
                        f"{current:,.1f} ms -> {proposed:,.2f} ms",
                        current / max(proposed, 1e-6),
                        "x faster",
                        details={
                            "variant": variant.key,
                            "scale": store.scale,
                            "current_p50_ms": current,
                            "proposed_p50_ms": proposed,
                            "same_rows": current_rows == proposed_rows,
                            "rows": len(current_rows),
                            "proposed_sql": variant.proposed_sql,
                        },
                    )
                )
                if current_rows != proposed_rows:
                    log(f"WARNING: {variant.key} returns different rows than today's SQL")
    finally:
        db.dispose()
    return results


def _current(conn: Connection, variant: Variant) -> tuple[str, tuple[Any, ...]]:
    after = list(variant.after) if variant.after else None
    query = search_query(parse_filter(variant.filter), parse_order_by(ORDER), after, 51)
    compiled = query.compile(conn)
    return str(compiled), tuple(compiled.params[n] for n in compiled.positiontup or ())


def _time(
    conn: Connection, sql: str, params: Sequence[Any], reps: int, budget_s: float
) -> tuple[float, list[tuple[Any, ...]]]:
    """p50 in ms of the query (rows fetched), and its rows."""
    rows = [tuple(r) for r in conn.exec_driver_sql(sql, tuple(params)).all()]  # warm-up
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < reps and (len(samples) < 3 or time.perf_counter() < deadline):
        start = time.perf_counter()
        conn.exec_driver_sql(sql, tuple(params)).all()
        samples.append(time.perf_counter() - start)
    return percentile(samples, 50) * 1000, rows
