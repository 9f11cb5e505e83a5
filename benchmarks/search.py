"""Target 3: ``search_versions`` latency (limit 50) over a big store, for several query shapes.

Each shape is timed as a full public API call (parse, id query, load 50 versions) and, for a
breakdown, as the id query alone (``modelyard.store.sql.search.run_search``). Its SQLite plan
(``EXPLAIN QUERY PLAN``) and its number of matching versions are recorded alongside.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from benchmarks.common import Measurement, log, summary_ms
from benchmarks.plans import explain_search
from benchmarks.populate import Store
from modelyard import Registry
from modelyard.domain.search import parse_filter, parse_order_by
from modelyard.store.sql.database import Database
from modelyard.store.sql.schema import groups, versions
from modelyard.store.sql.search import compile_filter, run_search

P50_TARGET_MS = 20.0
LIMIT = 50
PAGES = 20  # pages followed by cursor in the paging shape
CURSOR_EXAMPLE = [0.95, 50_000]  # a sort key (auc, version id) to explain the paging query


@dataclass(frozen=True, slots=True)
class Shape:
    key: str
    label: str
    filter: str | None
    order_by: str | None
    paging: bool = False


TARGET_SHAPE = "metric_tag"
SHAPES = (
    Shape(
        "metric_tag",
        "metric + tag filter, order by metric (THE TARGET)",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        "metrics.auc desc",
    ),
    Shape(
        "selective_tag",
        "selective tag (0.4%), order by metric",
        "tags.owner = 'owner-017'",
        "metrics.auc desc",
    ),
    Shape(
        "rare_tag",
        "rare tag (10 versions at any scale), order by metric",
        "tags.owner = 'owner-rare'",
        "metrics.auc desc",
    ),
    Shape(
        "high_metric",
        "high metric threshold (auc >= 0.9995) + tag, order by metric",
        "metrics.auc >= 0.9995 and tags.team = 'risk'",
        "metrics.auc desc",
    ),
    Shape(
        "other_metric",
        "filter on one metric + tag, order by another",
        "metrics.f1 >= 0.9 and tags.team = 'risk'",
        "metrics.auc desc",
    ),
    Shape(
        "group_metric",
        "one group + metric, order by metric",
        "name = 'model-03' and metrics.auc >= 0.9",
        "metrics.auc desc",
    ),
    Shape(
        "tag_newest",
        "tag, newest first",
        "tags.team = 'risk'",
        "created_at desc",
    ),
    Shape(
        "paging",
        f"metric + tag, pages 2..{PAGES + 1} by cursor",
        "metrics.auc >= 0.9 and tags.team = 'risk'",
        "metrics.auc desc",
        paging=True,
    ),
)


def run_search_bench(
    store: Store, *, reps: int, budget_s: float, only: set[str] | None = None
) -> tuple[list[Measurement], dict[str, Any]]:
    """Measurements, and the plans and match counts by shape key."""
    reg = store.open()
    db = Database(store.db_url)
    results: list[Measurement] = []
    plans: dict[str, Any] = {}
    try:
        for shape in SHAPES:
            if only and shape.key not in only:
                continue
            log(f"search {shape.key} @ {store.scale:,}")
            with db.transaction(write=False) as conn:
                after = CURSOR_EXAMPLE if shape.paging else None
                plan = explain_search(conn, shape.filter, shape.order_by, after=after)
                matches = _count(conn, shape.filter)
            by_page: list[list[float]] = []
            sql: list[float] | None = None
            if shape.paging:
                api, by_page = _time_pages(reg, shape, reps, budget_s)
            else:
                api, sql = _time_shape(reg, db, shape, reps, budget_s)
            plans[shape.key] = {"filter": shape.filter, "order_by": shape.order_by} | (
                plan.to_dict() | {"matches": matches}
            )
            measurement = _measurement(store.scale, shape, api, sql, matches, plan.verdict())
            if by_page:
                measurement.details["page_p50_ms"] = [summary_ms(p)["p50_ms"] for p in by_page]
            results.append(measurement)
    finally:
        db.dispose()
        reg.close()
    return results, plans


def _count(conn: Connection, filter_text: str | None) -> int:
    query = (
        select(func.count())
        .select_from(versions.join(groups, groups.c.id == versions.c.group_id))
        .where(compile_filter(parse_filter(filter_text)))
    )
    return int(conn.execute(query).scalar_one())


def _time_shape(
    reg: Registry, db: Database, shape: Shape, reps: int, budget_s: float
) -> tuple[list[float], list[float]]:
    node, order = parse_filter(shape.filter), parse_order_by(shape.order_by)
    reg.search_versions(shape.filter, order_by=shape.order_by, limit=LIMIT)  # warm-up
    api: list[float] = []
    sql: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(api) < reps and (len(api) < 3 or time.perf_counter() < deadline):
        start = time.perf_counter()
        reg.search_versions(shape.filter, order_by=shape.order_by, limit=LIMIT)
        api.append(time.perf_counter() - start)
        with db.transaction(write=False) as conn:
            start = time.perf_counter()
            run_search(conn, node, order, None, LIMIT)
            sql.append(time.perf_counter() - start)
    return api, sql


def _time_pages(
    reg: Registry, shape: Shape, reps: int, budget_s: float
) -> tuple[list[float], list[list[float]]]:
    """Latency of pages 2..PAGES+1, each fetched with the previous page's cursor.

    Returns all samples, and the samples by page (index 0 is page 2).
    """
    by_page: list[list[float]] = [[] for _ in range(PAGES)]
    deadline = time.perf_counter() + budget_s
    rounds = 0
    while rounds < max(3, reps // 5) and (rounds < 1 or time.perf_counter() < deadline):
        rounds += 1
        page = reg.search_versions(shape.filter, order_by=shape.order_by, limit=LIMIT)
        for index in range(PAGES):
            if page.next_cursor is None:
                break
            start = time.perf_counter()
            page = reg.search_versions(
                shape.filter, order_by=shape.order_by, limit=LIMIT, cursor=page.next_cursor
            )
            by_page[index].append(time.perf_counter() - start)
    by_page = [samples for samples in by_page if samples]
    return [s for samples in by_page for s in samples], by_page


def _measurement(
    scale: int,
    shape: Shape,
    api: list[float],
    sql: list[float] | None,
    matches: int,
    plan: str,
) -> Measurement:
    stats = summary_ms(api)
    details: dict[str, Any] = {
        "shape": shape.key,
        "scale": scale,
        "filter": shape.filter,
        "order_by": shape.order_by,
        "matches": matches,
        "latency": stats,
        "plan": plan,
        "primary": shape.key == TARGET_SHAPE,
    }
    if sql is not None:
        details["id_query_latency"] = summary_ms(sql)
    return Measurement(
        "search",
        f"{shape.label} p50 @ {scale:,}",
        stats["p50_ms"],
        "ms",
        P50_TARGET_MS,
        higher_is_better=False,
        details=details,
    )
