"""``EXPLAIN QUERY PLAN`` of the SQL a search compiles to (SQLite), and a short verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.search import parse_filter, parse_order_by
from modelyard.store.sql.search import rare_tag_comparisons, search_query


@dataclass(frozen=True, slots=True)
class Plan:
    sql: str
    lines: tuple[str, ...]  # the plan tree, indented

    @property
    def indexes(self) -> list[str]:
        found = re.findall(r"USING (?:COVERING )?INDEX (\w+)", "\n".join(self.lines))
        return sorted(set(found))

    @property
    def full_scans(self) -> list[str]:
        """Tables read start to end without an index (``SCAN t`` with no ``USING``)."""
        return [
            line.strip()
            for line in self.lines
            if re.search(r"\bSCAN \w+", line) and "USING" not in line
        ]

    @property
    def index_scans(self) -> list[str]:
        """Whole-index walks (``SCAN t USING INDEX``): ordered, but O(rows) if few match."""
        return [line.strip() for line in self.lines if re.search(r"\bSCAN \w+ USING", line)]

    @property
    def sorts(self) -> bool:
        return any("TEMP B-TREE" in line for line in self.lines)

    @property
    def driver(self) -> str:
        """The outermost loop: the table (and index range) the query is driven from."""
        return self.lines[0].strip() if self.lines else ""

    def verdict(self) -> str:
        parts = [f"driven by: {self.driver}", f"indexes: {', '.join(self.indexes) or 'none'}"]
        if self.index_scans:
            parts.append(f"index walks: {len(self.index_scans)}")
        if self.full_scans:
            parts.append(f"FULL SCANS: {len(self.full_scans)}")
        parts.append("sorts in a temp b-tree" if self.sorts else "no sort (index order)")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "plan": list(self.lines),
            "driver": self.driver,
            "indexes": self.indexes,
            "full_scans": self.full_scans,
            "index_scans": self.index_scans,
            "temp_btree_sort": self.sorts,
            "verdict": self.verdict(),
        }


def explain_search(
    conn: Connection,
    filter_text: str | None,
    order_by: str | None,
    *,
    after: list[Any] | None = None,
    limit: int = 50,
) -> Plan:
    """The plan of the id query ``search_versions`` runs (the page of ``limit + 1`` rows).

    Explained with bound parameters, as it runs (SQLite may plan literals differently), and
    with the rare-tag choice ``run_search`` makes for this filter on this data.
    """
    node = parse_filter(filter_text)
    rare = rare_tag_comparisons(conn, node)  # as run_search decides it, on this data
    query = search_query(node, parse_order_by(order_by), after, limit + 1, rare)
    readable = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
    compiled = query.compile(conn)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node_id, parent, _unused, detail in rows:
        depth[node_id] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node_id] + str(detail))
    return Plan(sql=readable, lines=tuple(lines))
