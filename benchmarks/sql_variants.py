"""The search SQL as compiled today vs. hand-written alternatives (what is still open).

Not a target, and not in the default run (``--only sqlvariants``): evidence for the remaining
proposals in docs/performance.md. "today" is the exact SQL ``run_search`` executes (including
its rare-tag choice, run with bound parameters); "proposed" is the same query rewritten by
hand. Both must return the same rows, which is checked.

The rewrites the first report measured here (range on the ordering join, seekable keyset
bound, tag as ``id IN``) are in ``src/`` now; what is left:

* the metric ``EXISTS`` that the pushed-down range makes redundant is still evaluated;
* a rare tag compiled as ``id IN (…)`` still walks the whole ordering index (SQLite probes the
  ``IN`` list per row), so it stays linear in the store size; driving the query from the tag
  index (``version_tags CROSS JOIN versions``) is not — but only for rare values (caveat row).
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
from modelyard.store.sql.database import Database
from modelyard.store.sql.search import rare_tag_comparisons, search_query

ORDER_BY = "ORDER BY m.value DESC, v.id DESC LIMIT 51"
SELECT = (
    "SELECT m.value, v.id FROM versions v JOIN groups g ON g.id = v.group_id "
    "JOIN version_metrics m ON m.version_id = v.id AND m.key = 'auc'{on} WHERE {where} " + ORDER_BY
)
# Driven from the tag index: SQLite keeps the left table of a CROSS JOIN as the outer loop.
# Equivalent to today's tag semantics when no group defines the tag key (as in this data).
TAG_DRIVEN = (
    "SELECT m.value, v.id FROM version_tags t CROSS JOIN versions v ON v.id = t.version_id "
    "JOIN groups g ON g.id = v.group_id "
    "JOIN version_metrics m ON m.version_id = v.id AND m.key = 'auc'{on} "
    "WHERE t.key = ? AND t.value = ? " + ORDER_BY
)
# A tag with today's semantics: the version's own tag, else its group's tag.
OWN_OR_GROUP_TAG = (
    "(EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.key = ? "
    "AND t.value = ?) OR (NOT EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id "
    "AND t.key = ?) AND EXISTS (SELECT 1 FROM group_tags gt WHERE gt.group_id = v.group_id "
    "AND gt.key = ? AND gt.value = ?)))"
)
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
        "no_exists_target",
        "THE TARGET, without the metric EXISTS the join range implies",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        None,
        SELECT.format(on=" AND m.value >= ?", where=OWN_OR_GROUP_TAG),
        (0.9, *_tag_params("team", "risk")),
    ),
    Variant(
        "no_exists_page",
        "page after auc = 0.95, without the redundant metric EXISTS",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        (0.95, 10**9),
        SELECT.format(
            on=" AND m.value >= ?",
            where=OWN_OR_GROUP_TAG + " AND m.value <= ? AND (m.value < ? OR "
            "(m.value = ? AND v.id < ?))",
        ),
        (0.9, *_tag_params("team", "risk"), 0.95, 0.95, 0.95, 10**9),
    ),
    Variant(
        "tag_driven_rare",
        "rare tag (10 versions), driven from the tag index",
        f"tags.owner = '{RARE_OWNER}'",
        None,
        TAG_DRIVEN.format(on=""),
        ("owner", RARE_OWNER),
    ),
    Variant(
        "tag_driven_selective",
        "selective tag (0.4%), driven from the tag index",
        "tags.owner = 'owner-017'",
        None,
        TAG_DRIVEN.format(on=""),
        ("owner", "owner-017"),
    ),
    Variant(
        "tag_driven_common",
        "CAVEAT: common tag (20%) + range, driven from the tag index",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        None,
        TAG_DRIVEN.format(on=" AND m.value >= ?"),
        (0.9, "team", "risk"),
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
                        f"{current:,.2f} ms -> {proposed:,.2f} ms",
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
                            "current_plan": _plan(conn, sql, params),
                            "proposed_plan": _plan(
                                conn, variant.proposed_sql, variant.proposed_params
                            ),
                        },
                    )
                )
                if current_rows != proposed_rows:
                    log(f"WARNING: {variant.key} returns different rows than today's SQL")
                if variant.key.startswith("tag_driven") and _group_defines(conn, variant):
                    log(f"WARNING: {variant.key}: a group defines the tag key, not equivalent")
    finally:
        db.dispose()
    return results


def _current(conn: Connection, variant: Variant) -> tuple[str, tuple[Any, ...]]:
    after = list(variant.after) if variant.after else None
    node = parse_filter(variant.filter)
    rare = rare_tag_comparisons(conn, node)
    query = search_query(node, parse_order_by(ORDER), after, 51, rare)
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


def _group_defines(conn: Connection, variant: Variant) -> bool:
    key = variant.proposed_params[-2]
    found = conn.exec_driver_sql("SELECT 1 FROM group_tags WHERE key = ? LIMIT 1", (key,))
    return found.first() is not None


def _plan(conn: Connection, sql: str, params: Sequence[Any]) -> list[str]:
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params)).all()
    return [str(row[3]) for row in rows]
