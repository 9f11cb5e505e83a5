"""Gate conditions (CEL): compiling, evaluating, number handling and reported values."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.domain.gates import (
    MAX_SOURCE,
    Condition,
    GateError,
    GateResult,
    compile_condition,
    evaluate,
)
from modelyard.errors import ValidationError


def version(**metrics: Any) -> dict[str, Any]:
    return {
        "group": "fraud",
        "version": 7,
        "metrics": metrics,
        "params": {"lr": 0.01, "layers": 3},
        "tags": {"team": "risk"},
        "metadata": {"owner": "alice"},
        "approval_status": "PendingManualApproval",
        "created_by": "alice",
    }


CONTEXT: dict[str, Any] = {
    "candidate": version(auc=0.91, n=3),
    "run": {"metrics": {"latency_ms": 12.5}},
    "production": version(auc=0.9),
    "staging": None,
}


def check(*sources: str, context: dict[str, Any] | None = None) -> GateResult:
    conditions = [compile_condition(source) for source in sources]
    return evaluate(conditions, CONTEXT if context is None else context)


# -------------------------------------------------------------------------- passing


@pytest.mark.parametrize(
    "source",
    [
        "candidate.metrics.auc >= 0.85",
        "candidate.metrics.auc >= production.metrics.auc - 0.005",
        "production == null || candidate.metrics.auc > production.metrics.auc",
        "has(candidate.metrics.auc)",
        "!has(candidate.metrics.f1)",
        "run.metrics.latency_ms < 50.0",
        'candidate.tags.team == "risk"',
        "candidate.tags.team.startsWith('ri') && size(candidate.tags) == 1",
        "candidate.approval_status in ['PendingManualApproval', 'Approved']",
        "staging == null",
        "candidate['metrics']['auc'] > 0.5",
        "int(candidate.params.layers) == 3",
    ],
)
def test_conditions_that_hold(source: str) -> None:
    result = check(source)
    assert result == GateResult(passed=True, failed=None, values=result.values, error=None)


@pytest.mark.parametrize(
    "source",
    [
        "candidate.metrics.auc > 0",  # double vs int literal
        "0 < candidate.metrics.auc",  # int literal on the left
        "candidate.metrics.n > 2.5",  # a JSON integer vs a double literal
        "candidate.metrics.n == 3",
        "candidate.version == 7",
        "candidate.metrics.n / 2 == 1.5",  # context numbers divide as doubles
        "candidate.metrics.auc + 1 > 1.5",
        "size(candidate.metrics) == 2.0",
    ],
)
def test_mixed_int_and_double_compare_as_numbers(source: str) -> None:
    assert check(source).passed, check(source).error


def test_integer_literals_keep_integer_semantics() -> None:
    assert check("7 / 2 == 3").passed


def test_all_conditions_must_hold() -> None:
    result = check("candidate.metrics.auc > 0.5", "run.metrics.latency_ms < 50.0")
    assert result.passed
    assert result.values == {"candidate.metrics.auc": 0.91, "run.metrics.latency_ms": 12.5}


def test_no_conditions_pass() -> None:
    assert evaluate([], CONTEXT) == GateResult(passed=True, failed=None, values={})


# -------------------------------------------------------------------------- failing


def test_failure_names_the_first_failing_condition_and_every_value() -> None:
    result = check(
        "candidate.metrics.auc > 0.5",
        "candidate.metrics.auc >= production.metrics.auc + 0.05",
        "run.metrics.latency_ms < 1.0",
    )
    assert result == GateResult(
        passed=False,
        failed="candidate.metrics.auc >= production.metrics.auc + 0.05",
        values={
            "candidate.metrics.auc": 0.91,
            "production.metrics.auc": 0.9,
            "run.metrics.latency_ms": 12.5,
        },
        error=None,
    )


def test_missing_key_fails_with_an_error() -> None:
    result = check("candidate.metrics.f1 > 0.5")
    assert not result.passed
    assert result.failed == "candidate.metrics.f1 > 0.5"
    assert result.values == {"candidate.metrics.f1": None}
    assert result.error == "no such member in mapping: 'f1'"


def test_null_production_short_circuits() -> None:
    context = {**CONTEXT, "production": None}
    result = check(
        "production == null || candidate.metrics.auc > production.metrics.auc", context=context
    )
    assert result.passed
    assert result.values == {
        "production": None,
        "candidate.metrics.auc": 0.91,
        "production.metrics.auc": None,
    }


def test_null_production_without_a_guard_is_an_error() -> None:
    context = {**CONTEXT, "production": None}
    result = check("candidate.metrics.auc >= production.metrics.auc - 0.005", context=context)
    assert not result.passed
    assert result.error == "'null' does not support field selection"
    assert result.values == {"candidate.metrics.auc": 0.91, "production.metrics.auc": None}


def test_has_on_null_production_is_false() -> None:
    context = {**CONTEXT, "production": None}
    assert not check("has(production.metrics.auc)", context=context).passed


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("run.metrics.latency_ms + 1", "the condition gave double 13.5, not true or false"),
        ("candidate.tags.team", "the condition gave string 'risk', not true or false"),
        ("candidate.version", "the condition gave double 7.0, not true or false"),
        ("candidate.metrics", "the condition gave map, not true or false"),
        ("production.missing_field_is_not_here == null ? null : null", None),
    ],
)
def test_non_boolean_results_fail(source: str, error: str | None) -> None:
    result = check(source)
    assert not result.passed
    assert result.failed == source
    if error is not None:
        assert result.error == error
    else:
        assert result.error is not None


def test_type_mismatch_fails_with_a_readable_error() -> None:
    result = check("candidate.tags.team > 1")
    assert not result.passed
    assert result.error == "found no matching overload for '>' applied to '(string, int)'"


def test_unknown_root_fails_at_evaluation_without_roots() -> None:
    result = check("nope.x == 1")
    assert result.error == "undeclared reference to 'nope'"
    assert result.values == {"nope.x": None}


def test_division_by_zero_fails() -> None:
    assert check("1 / 0 == 1").error == "modulus or divide by zero"


# -------------------------------------------------------------------------- compiling


def test_condition_records_its_paths_in_order() -> None:
    condition = compile_condition(
        "has(candidate.metrics.auc) && candidate.metrics['val/auc'] > production.metrics.auc"
        " && candidate.tags.exists(k, k == 'team') && [1, 2].all(x, x > 0)"
    )
    assert isinstance(condition, Condition)
    assert condition.paths == (
        "candidate.metrics.auc",
        'candidate.metrics["val/auc"]',
        "production.metrics.auc",
        "candidate.tags",
    )
    values = evaluate([condition], {**CONTEXT, "candidate": version(**{"val/auc": 0.95})})
    assert values.values['candidate.metrics["val/auc"]'] == 0.95


@pytest.mark.parametrize(
    ("source", "line", "column", "reason"),
    [
        ("candidate.metrics.auc >=", 1, 25, "unexpected end of expression"),
        ("candidate.metrics.auc > (0.5", 1, 29, "unexpected end of expression (expected ')')"),
        ("candidate.metrics.auc &&\n  run.x <\n", 2, 10, "unexpected end of expression"),
        ("1 +* 2", 1, 4, "unexpected '*'"),
        ("candidate # 1", 1, 11, "unexpected character '#'"),
        ("candidate.metrics.auc >\n  )", 2, 3, "unexpected ')'"),
    ],
)
def test_syntax_errors_name_line_and_column(
    source: str, line: int, column: int, reason: str
) -> None:
    with pytest.raises(GateError) as caught:
        compile_condition(source, field="stages[3].when")
    exc = caught.value
    assert isinstance(exc, ValidationError)
    assert (exc.field, exc.line, exc.column) == ("stages[3].when", line, column)
    assert exc.message == (
        f"stages[3].when: CEL syntax error at line {line}, column {column}: {reason}"
    )


@pytest.mark.parametrize("source", ["", "   ", 42])
def test_empty_or_non_text_conditions_are_refused(source: Any) -> None:
    with pytest.raises(GateError, match="^when: must be a non-empty CEL expression$"):
        compile_condition(source)


def test_long_expressions_are_refused() -> None:
    with pytest.raises(GateError, match=f"longer than {MAX_SOURCE} characters"):
        compile_condition("true && " * 600 + "true")


def test_deep_nesting_is_refused_at_compile_time() -> None:
    with pytest.raises(GateError, match="nested too deeply"):
        compile_condition("(" * 40 + "true" + ")" * 40)
    with pytest.raises(GateError, match="nested too deeply"):
        compile_condition(" + ".join(["1"] * 300) + " > 0")


def test_the_deepest_accepted_expression_evaluates() -> None:
    # just under the depth limit still evaluates within the interpreter's recursion limit
    for depth in range(40, 0, -1):
        source = "(" * depth + "candidate.metrics.auc > 0.5" + ")" * depth
        try:
            condition = compile_condition(source)
        except GateError:
            continue
        assert evaluate([condition], CONTEXT).passed
        break
    else:
        pytest.fail("no nesting depth was accepted")


def test_roots_catch_unknown_names() -> None:
    with pytest.raises(GateError) as caught:
        compile_condition(
            "candidate.metrics.auc > 0.5 &&\n  candiate.metrics.auc > 0.5",
            roots={"candidate", "run"},
        )
    exc = caught.value
    assert (exc.line, exc.column) == (2, 3)
    assert exc.message == (
        "when: unknown name 'candiate' at line 2, column 3 (known: candidate, run)"
    )


def test_roots_ignore_comprehension_variables() -> None:
    condition = compile_condition("candidate.tags.all(k, k != 'x')", roots={"candidate"})
    assert condition.paths == ("candidate.tags",)


def test_evaluation_does_not_change_the_context() -> None:
    context = {"candidate": version(auc=1)}
    evaluate([compile_condition("candidate.metrics.auc == 1")], context)
    assert context == {"candidate": version(auc=1)}
    assert isinstance(context["candidate"]["metrics"]["auc"], int)
