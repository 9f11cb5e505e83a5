"""Use cases for pipeline definitions: apply (a new revision when it changed), list, show,
diff; a pipeline's ``trigger:`` is kept as the rule ``pipeline-<name>``."""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.access import ANY_GROUP, Action
from modelyard.domain.default_pipeline import DEFAULT_PIPELINE_NAME, DEFAULT_RELEASE_PIPELINE
from modelyard.domain.pipeline_spec import PipelineSpec, parse_pipeline
from modelyard.domain.rules import Rule, validate_rule_name
from modelyard.domain.targets import parse_target
from modelyard.errors import ValidationError
from modelyard.services.base import ServiceBase
from modelyard.services.events.rules import TRIGGER_PREFIX
from modelyard.services.release.runs import MAX_ID
from modelyard.store.sql import deliveries as delivery_store
from modelyard.store.sql import pipelines as store
from modelyard.store.sql import rules as rule_store

MAX_SOURCE_BYTES = 256 * 1024


def trigger_rule_name(pipeline: str) -> str:
    return f"{TRIGGER_PREFIX}{pipeline}"  # pipeline names are at most 54 characters


class PipelineService(ServiceBase):
    def apply_pipeline(self, source: str) -> dict[str, Any]:
        """Validate a pipeline YAML document and store it as the pipeline's next revision
        (``changed`` is False, and nothing is stored, when it equals the latest one)."""
        if not isinstance(source, str):
            raise ValidationError("source: must be the pipeline's YAML text", field="source")
        if len(source.encode()) > MAX_SOURCE_BYTES:
            raise ValidationError("source: larger than 256 KiB", field="source")
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.PIPELINES_MANAGE, None, "pipelines")
            spec = parse_pipeline(source, environments=store.known_environments(conn))
            self._authorize(conn, Action.PIPELINES_MANAGE, None, f"pipeline:{spec.name}")
            latest = store.latest_revision(conn, spec.name)
            if latest and store.get_revision(conn, spec.name, latest)["source"] == source:
                return {"pipeline": store.get_revision(conn, spec.name, latest), "changed": False}
            stored = store.insert_revision(
                conn,
                name=spec.name,
                revision=latest + 1,
                source=source,
                spec=spec.to_dict(),
                actor=self.actor,
                now=now,
            )
            self._sync_trigger(conn, spec, now=now)
            self._record(
                conn,
                action="pipeline.apply",
                resource=f"pipeline:{spec.name}",
                event_type="pipeline.applied",
                data={
                    "group": None,
                    "pipeline": spec.name,
                    "revision": latest + 1,
                    "stages": [s.name for s in spec.stages],
                    "trigger": stored["spec"]["trigger"],
                },
                now=now,
            )
            return {"pipeline": stored, "changed": True}

    def _sync_trigger(self, conn: Connection, spec: PipelineSpec, *, now: Any) -> None:
        """Replace the pipeline's trigger rule (drop it when the pipeline has no trigger)."""
        name = trigger_rule_name(spec.name)
        validate_rule_name(name)
        if rule_store.rule_exists(conn, name):
            old = rule_store.get_rule(conn, name)
            delivery_store.cancel_rule(conn, old.id, now=now)
            rule_store.delete_rule(conn, name)
        if spec.trigger is None:
            return
        rule = Rule(
            name=name,
            pattern=spec.trigger,
            format="cloudevents",
            targets=(parse_target({"type": "pipeline", "pipeline": spec.name}),),
            description=f"trigger of pipeline {spec.name}",
        )
        rule_store.insert_rule(conn, rule, actor=self.actor, now=now)

    def list_pipelines(self) -> list[dict[str, Any]]:
        """The latest revision of every pipeline."""
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, ANY_GROUP, "pipelines")
            return store.list_latest(conn)

    def get_pipeline(self, name: str, *, revision: int | None = None) -> dict[str, Any]:
        """A pipeline's latest revision, or ``revision``: its YAML and normalized spec."""
        validate_rule_name(name, field="pipeline")
        _check_revision(revision)
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, ANY_GROUP, f"pipeline:{name}")
            return store.get_revision(conn, name, revision)

    def diff_pipeline(
        self, name: str, *, from_revision: int, to_revision: int | None = None
    ) -> str:
        """A unified diff of two revisions' YAML (``to_revision`` defaults to the latest)."""
        validate_rule_name(name, field="pipeline")
        _check_revision(from_revision, field="from_revision")
        _check_revision(to_revision, field="to_revision")
        with self._read() as conn:
            self._authorize(conn, Action.GROUP_READ, ANY_GROUP, f"pipeline:{name}")
            old = store.get_revision(conn, name, from_revision)
            new = store.get_revision(conn, name, to_revision)
        return "".join(
            difflib.unified_diff(
                old["source"].splitlines(keepends=True),
                new["source"].splitlines(keepends=True),
                fromfile=f"{name} revision {old['revision']}",
                tofile=f"{name} revision {new['revision']}",
            )
        )

    def ensure_default_pipeline(self) -> bool:
        """Apply the default ``release`` pipeline unless a pipeline of that name exists (for
        ``modelyard init`` and a server's first start); True when it was created."""
        if any(p["name"] == DEFAULT_PIPELINE_NAME for p in self.list_pipelines()):
            return False
        self.apply_pipeline(DEFAULT_RELEASE_PIPELINE)
        return True


def _check_revision(revision: int | None, *, field: str = "revision") -> None:
    if revision is not None and (
        isinstance(revision, bool) or not isinstance(revision, int) or not 1 <= revision <= MAX_ID
    ):
        raise ValidationError(f"{field}: must be a positive whole number", field=field)
