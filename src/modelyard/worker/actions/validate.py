"""``validate``: the version has the metadata, metrics and lineage the pipeline requires, and
(unless ``check_manifest: false``) every stored file still matches its manifest digest.
Idempotent: it only reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.domain.gates import compile_condition, evaluate
from modelyard.errors import IntegrityError, ModelyardError
from modelyard.services.release.engine import Outcome
from modelyard.worker.actions.base import StageContext, failed, succeeded
from modelyard.worker.actions.gate import context_of

_MISSING = object()


def idempotent(stage: Mapping[str, Any]) -> bool:
    return True


def run(ctx: StageContext) -> Outcome:
    version = ctx.work.version.to_dict()
    missing = [path for path in ctx.stage["require"] if _empty(_lookup(version, path))]
    for path in ctx.stage["require"]:
        ctx.log(f"{'missing' if path in missing else 'present'}: {path}")
    if missing:
        return failed(f"missing: {', '.join(missing)}", missing=missing)
    failed_check = _custom_checks(ctx)
    if failed_check is not None:
        return failed_check
    if ctx.stage["check_manifest"]:
        try:
            ctx.materialize()
        except IntegrityError as e:
            return failed(f"manifest check failed: {e}")
        except ModelyardError as e:
            return failed(f"cannot read the version's files: {e}")
        ctx.log(f"manifest intact: {len(ctx.work.version.manifest.files)} files re-hashed")
    return succeeded(checked=list(ctx.stage["require"]), manifest=ctx.stage["check_manifest"])


def _custom_checks(ctx: StageContext) -> Outcome | None:
    """``checks:`` — CEL conditions like a gate's (custom validation rules)."""
    sources = ctx.stage.get("checks") or []
    if not sources:
        return None
    result = evaluate([compile_condition(s) for s in sources], context_of(ctx))
    if result.passed:
        ctx.log(f"custom checks passed: {len(sources)}")
        return None
    why = f"check failed: {result.failed}" + (f" ({result.error})" if result.error else "")
    ctx.log(why)
    return failed(why, check=result.failed, values=result.values)


KEYED = ("metrics", "params", "tags", "metadata")  # their keys may contain dots


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    prefix, _, key = path.partition(".")
    if prefix in KEYED:
        return document[prefix].get(key, _MISSING)
    value: Any = document
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return _MISSING
        value = value[step]
    return value


def _empty(value: Any) -> bool:
    return value is _MISSING or value is None or value in ("", [], {})
