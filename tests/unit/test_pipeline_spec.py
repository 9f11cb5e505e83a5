"""Release pipeline documents: parsing, defaults, execution order and located errors."""

from __future__ import annotations

import json
import textwrap

import pytest

from modelyard.domain.pipeline_spec import (
    ACTIONS,
    MAX_NODES,
    PipelineError,
    PipelineSpec,
    parse_pipeline,
)
from modelyard.errors import ValidationError

ENVIRONMENTS = {"staging", "production"}

# DESIGN.md §6, except that the go-live approval names a real role: ``release-manager``
# is not one (see test_design_example_role_is_not_a_role).
DESIGN_EXAMPLE = """\
name: release
trigger: {type: [version.created], data: {group: [{prefix: fraud-}]}}   # an event pattern
stages:
  - {name: validate, uses: validate, require: [metrics.auc, lineage.code.commit]}
  - {name: scan, uses: scan}
  - {name: evaluate, uses: command, run: "python eval.py {artifact_dir} {metrics_out}"}
  - {name: quality, uses: gate, when: "candidate.metrics.auc >= 0.85 && candidate.metrics.auc >= production.metrics.auc - 0.005"}
  - {name: review, uses: approval, approvers: {role: approver, count: 2}, timeout: 7d}
  - {name: staging, uses: deploy, environment: staging, check: {run: "./smoke.sh {reference}"}, rollback_on_failure: true}
  - {name: go-live, uses: approval, approvers: {role: deployer, count: 1}}
  - {name: production, uses: deploy, environment: production}
"""  # noqa: E501


def parse(text: str) -> PipelineSpec:
    return parse_pipeline(textwrap.dedent(text), environments=ENVIRONMENTS)


def error(text: str) -> PipelineError:
    with pytest.raises(PipelineError) as caught:
        parse(text)
    return caught.value


def one_stage(stage: str) -> str:
    """A pipeline whose only stage (line 3 on) is ``stage`` (a YAML block, unindented)."""
    body = textwrap.indent(textwrap.dedent(stage), "    ").replace("    ", "  - ", 1)
    return f"name: p\nstages:\n{body}"


def assert_error(text: str, *, line: int, field: str | None, contains: str = "") -> None:
    exc = error(text)
    assert (exc.line, exc.field) == (line, field), exc.message
    prefix = f"line {line}: {field}: " if field else f"line {line}: "
    assert exc.message.startswith(prefix), exc.message
    assert contains in exc.message


# -------------------------------------------------------------------------- valid


def test_design_example_parses_in_order_with_defaults() -> None:
    spec = parse(DESIGN_EXAMPLE)
    assert spec.name == "release"
    assert spec.description == ""
    assert spec.source == DESIGN_EXAMPLE
    assert spec.trigger is not None
    assert spec.trigger.matches({"type": "version.created", "data": {"group": "fraud-cards"}})
    assert not spec.trigger.matches({"type": "version.created", "data": {"group": "churn"}})
    names = [stage.name for stage in spec.stages]
    assert names == [
        "validate",
        "scan",
        "evaluate",
        "quality",
        "review",
        "staging",
        "go-live",
        "production",
    ]
    stages = {stage.name: stage for stage in spec.stages}
    assert stages["validate"].needs == ()
    assert stages["scan"].needs == ("validate",)
    assert stages["production"].needs == ("go-live",)
    assert stages["validate"].config == {
        "require": ["metrics.auc", "lineage.code.commit"],
        "check_manifest": True,
        "checks": [],
    }
    assert stages["scan"].config == {}
    assert stages["evaluate"].config == {
        "run": "python eval.py {artifact_dir} {metrics_out}",
        "env": {},
        "timeout": 3600,
        "idempotent": True,
    }
    assert stages["quality"].config["when"] == [
        "candidate.metrics.auc >= 0.85 && candidate.metrics.auc >= production.metrics.auc - 0.005"
    ]
    assert stages["review"].config == {
        "approvers": {
            "role": "approver",
            "count": 2,
            "principals": None,
            "allow_registrant": False,
        },
        "timeout": 7 * 86400,
    }
    assert stages["staging"].config == {
        "environment": "staging",
        "hook": None,
        "check": {"run": "./smoke.sh {reference}", "timeout": 300},
        "rollback_on_failure": True,
    }
    assert stages["production"].config["rollback_on_failure"] is True
    assert [stage.line for stage in spec.stages] == list(range(4, 12))


def test_design_example_role_is_not_a_role() -> None:
    text = DESIGN_EXAMPLE.replace("role: deployer", "role: release-manager")
    assert_error(
        text, line=10, field="stages[6].approvers.role", contains="'release-manager' is not a role"
    )


def test_to_dict_is_json_ready_and_in_execution_order() -> None:
    data = parse(DESIGN_EXAMPLE).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["trigger"] == {
        "data": {"group": [{"prefix": "fraud-"}]},
        "type": ["version.created"],
    }
    assert data["stages"][0] == {
        "name": "validate",
        "uses": "validate",
        "needs": [],
        "require": ["metrics.auc", "lineage.code.commit"],
        "check_manifest": True,
        "checks": [],
    }


def test_needs_order_is_topological_and_stable_by_declaration() -> None:
    spec = parse(
        """\
        name: fan
        stages:
          - {name: deploy, uses: deploy, environment: production, needs: [gate, scan]}
          - {name: gate, uses: gate, when: "run.metrics.ok == true", needs: [train]}
          - {name: scan, uses: scan, needs: []}
          - {name: train, uses: command, run: [python, train.py], needs: []}
          - {name: notify, uses: notify, type: custom.done}
        """
    )
    assert [s.name for s in spec.stages] == ["scan", "train", "gate", "deploy", "notify"]
    needs = {s.name: s.needs for s in spec.stages}
    assert needs == {
        "deploy": ("gate", "scan"),
        "gate": ("train",),
        "scan": (),
        "train": (),
        "notify": ("train",),  # the default: the stage declared before it
    }


def test_needs_may_be_a_single_name() -> None:
    spec = parse(
        """\
        name: p
        stages:
          - {name: b, uses: scan, needs: a}
          - {name: a, uses: scan, needs: []}
        """
    )
    assert [(s.name, s.needs) for s in spec.stages] == [("a", ()), ("b", ("a",))]


def test_every_action_with_every_option() -> None:
    spec = parse(
        """\
        name: Full_Pipeline-1
        description: every option
        stages:
          - name: check
            uses: validate
            require: [description, model_card, params.lr, tags.team, metadata.owner, metrics.v/a]
            check_manifest: false
          - name: train
            uses: command
            run: ["python", "-c", "print('{{x}}')", "{version}"]
            env: {MODEL: "{group}", _X: "1"}
            timeout: 90m
            idempotent: false
          - name: gates
            uses: gate
            when:
              - has(candidate.metrics.auc)
              - production == null || candidate.metrics.auc > production.metrics.auc
          - name: review
            uses: approval
            approvers:
              role: admin
              count: 2
              principals: [alice, bob@example.com]
              allow_registrant: true
            timeout: 90d
          - name: ship
            uses: deploy
            environment: production
            hook: {webhook: "https://deploy.example.com/hook", secret: 0123456789abcdef}
            check: {url: "http://svc.internal/health", expect_status: 204, timeout: 30s}
            rollback_on_failure: false
          - name: stage
            uses: deploy
            environment: staging
            hook: {run: "kubectl rollout restart deploy/{group}"}
          - name: tell
            uses: notify
            type: custom.release.done
            message: "{group} v{version} is live"
            data: {team: risk, attempt: 1, ok: true, none: null}
        """
    )
    config = {stage.name: stage.config for stage in spec.stages}
    assert spec.description == "every option"
    assert config["check"]["check_manifest"] is False
    assert config["train"] == {
        "run": ["python", "-c", "print('{{x}}')", "{version}"],
        "env": {"MODEL": "{group}", "_X": "1"},
        "timeout": 5400,
        "idempotent": False,
    }
    assert len(config["gates"]["when"]) == 2
    assert config["review"] == {
        "approvers": {
            "role": "admin",
            "count": 2,
            "principals": ["alice", "bob@example.com"],
            "allow_registrant": True,
        },
        "timeout": 90 * 86400,
    }
    assert config["ship"]["hook"] == {
        "webhook": "https://deploy.example.com/hook",
        "secret": "0123456789abcdef",
    }
    assert config["ship"]["check"] == {
        "url": "http://svc.internal/health",
        "expect_status": 204,
        "timeout": 30,
    }
    assert config["ship"]["rollback_on_failure"] is False
    assert config["stage"]["hook"] == {"run": "kubectl rollout restart deploy/{group}"}
    assert config["stage"]["check"] is None
    assert config["tell"] == {
        "type": "custom.release.done",
        "message": "{group} v{version} is live",
        "data": {"team": "risk", "attempt": 1, "ok": True, "none": None},
    }


def test_anchors_and_aliases_are_expanded() -> None:
    spec = parse(
        """\
        name: p
        stages:
          - {name: a, uses: command, run: &cmd [make, test]}
          - {name: b, uses: command, run: *cmd}
        """
    )
    assert [stage.config["run"] for stage in spec.stages] == [["make", "test"]] * 2


def test_yaml_dates_stay_text() -> None:
    spec = parse("name: p\ndescription: 2024-01-31\nstages: [{name: a, uses: scan}]\n")
    assert spec.description == "2024-01-31"


def test_pipeline_error_is_a_validation_error() -> None:
    exc = error("name: p\n")
    assert isinstance(exc, ValidationError)
    assert exc.to_dict() == {
        "code": "validation_error",
        "message": "line 1: stages: required for a pipeline",
        "field": "stages",
    }


# -------------------------------------------------------------------------- errors


def test_unknown_action() -> None:
    assert_error(
        one_stage("name: a\nuses: deploy2\n"),
        line=4,
        field="stages[0].uses",
        contains="'deploy2' is not an action (one of " + ", ".join(ACTIONS) + ")",
    )


def test_missing_uses() -> None:
    assert_error(one_stage("name: a\n"), line=3, field="stages[0].uses", contains="required")


def test_bad_cel_names_its_line() -> None:
    text = one_stage('name: q\nuses: gate\nwhen: ["true", "candidate.metrics.auc >="]\n')
    assert_error(
        text,
        line=5,
        field="stages[0].when[1]",
        contains="CEL syntax error at line 1, column 25: unexpected end of expression",
    )


def test_bad_cel_in_a_block_list_names_the_item_line() -> None:
    text = """\
    name: p
    stages:
      - name: q
        uses: gate
        when:
          - candidate.metrics.auc > 0.5
          - candidate.metrics.auc > (0.5
    """
    assert_error(text, line=7, field="stages[0].when[1]", contains="expected ')'")


def test_bad_cel_in_a_literal_block_names_the_line_inside_it() -> None:
    text = """\
    name: p
    stages:
      - name: q
        uses: gate
        when: |
          candidate.metrics.auc > 0.5 &&
          candidate.metrics.auc <
    """
    assert_error(text, line=7, field="stages[0].when", contains="CEL syntax error at line 2")


def test_gate_reading_an_unknown_name() -> None:
    text = one_stage("name: q\nuses: gate\nwhen: candiate.metrics.auc > 0.5\n")
    assert_error(
        text,
        line=5,
        field="stages[0].when",
        contains="unknown name 'candiate' at line 1, column 1 "
        "(known: candidate, production, run, staging)",
    )


def test_too_many_conditions() -> None:
    text = one_stage("name: q\nuses: gate\nwhen: [" + ", ".join(["true"] * 21) + "]\n")
    assert_error(text, line=5, field="stages[0].when", contains="1 to 20 items")


def test_cycle() -> None:
    text = """\
    name: p
    stages:
      - {name: a, uses: scan}
      - {name: b, uses: scan, needs: [c]}
      - {name: c, uses: scan}
    """
    # b needs c (explicit), c needs b (the default: the stage before it)
    assert_error(text, line=4, field="stages[1].needs", contains="cycle: b -> c -> b")


def test_cycle_of_explicit_needs_starts_at_the_first_declared() -> None:
    text = """\
    name: p
    stages:
      - {name: x, uses: scan, needs: []}
      - {name: a, uses: scan, needs: [b]}
      - name: b
        uses: scan
        needs: [a]
    """
    assert_error(text, line=4, field="stages[1].needs", contains="cycle: a -> b -> a")


def test_stage_needing_itself() -> None:
    text = one_stage("name: a\nuses: scan\nneeds: [a]\n")
    assert_error(text, line=5, field="stages[0].needs", contains="cycle: a -> a")


def test_unknown_need() -> None:
    text = """\
    name: p
    stages:
      - {name: a, uses: scan}
      - name: b
        uses: scan
        needs:
          - a
          - evalute
    """
    assert_error(
        text,
        line=8,
        field="stages[1].needs[1]",
        contains="'evalute' is not a stage of this pipeline (stages: a, b)",
    )


def test_duplicate_stage_names() -> None:
    text = """\
    name: p
    stages:
      - {name: scan, uses: scan}
      - {name: other, uses: scan}
      - {name: scan, uses: validate}
    """
    assert_error(
        text,
        line=5,
        field="stages[2].name",
        contains="'scan' is already the name of stages[0] (line 3)",
    )


def test_unknown_environment() -> None:
    text = one_stage("name: d\nuses: deploy\nenvironment: prod\n")
    assert_error(
        text,
        line=5,
        field="stages[0].environment",
        contains="'prod' is not an environment (known: production, staging)",
    )


def test_environment_must_be_an_alias_name() -> None:
    text = one_stage("name: d\nuses: deploy\nenvironment: Prod!\n")
    assert_error(text, line=5, field="stages[0].environment", contains="not a valid alias name")


def test_unknown_key_in_a_stage() -> None:
    text = one_stage("name: c\nuses: command\nrun: make\nrunn: make\n")
    assert_error(
        text,
        line=6,
        field="stages[0].runn",
        contains="not a field of a command stage "
        "(fields: env, idempotent, name, needs, run, timeout, uses)",
    )


def test_unknown_top_level_key() -> None:
    assert_error(
        "name: p\ntriggers: {}\nstages: [{name: a, uses: scan}]\n",
        line=2,
        field="triggers",
        contains="not a field of a pipeline (fields: description, name, stages, trigger)",
    )


def test_scan_takes_no_options() -> None:
    text = one_stage("name: s\nuses: scan\nseverity: high\n")
    assert_error(text, line=5, field="stages[0].severity", contains="(fields: name, needs, uses)")


def test_bad_duration() -> None:
    text = one_stage("name: c\nuses: command\nrun: make\ntimeout: 5 minutes\n")
    assert_error(
        text,
        line=6,
        field="stages[0].timeout",
        contains="'5 minutes' is not a duration like 90s, 30m, 12h, 7d or 2w",
    )


def test_duration_over_the_limit() -> None:
    text = one_stage("name: r\nuses: approval\ntimeout: 13w\n")
    assert_error(text, line=5, field="stages[0].timeout", contains="'13w' is longer than 90d")


def test_bad_placeholder() -> None:
    text = one_stage('name: c\nuses: command\nrun: "python eval.py {artifact} {metrics_out}"\n')
    assert_error(
        text,
        line=5,
        field="stages[0].run",
        contains="'{artifact}' is not a placeholder (one of {artifact_dir}, ",
    )


def test_bad_placeholder_in_env() -> None:
    text = one_stage('name: c\nuses: command\nrun: make\nenv:\n  HOME: "${HOME}"\n')
    assert_error(text, line=7, field="stages[0].env.HOME", contains="'{HOME}' is not a")


def test_placeholder_with_a_format_spec() -> None:
    text = one_stage('name: c\nuses: command\nrun: "echo {version:03d}"\n')
    assert_error(text, line=5, field="stages[0].run", contains="'{version:03d}' is not a")


def test_unbalanced_brace() -> None:
    text = one_stage("name: c\nuses: command\nrun: [awk, '{print $1']\n")
    assert_error(text, line=5, field="stages[0].run[1]", contains="write {{ and }}")


def test_command_line_that_shlex_cannot_split() -> None:
    text = one_stage("name: c\nuses: command\nrun: echo 'unclosed\n")
    assert_error(text, line=5, field="stages[0].run", contains="No closing quotation")


def test_env_names_and_values() -> None:
    text = one_stage("name: c\nuses: command\nrun: make\nenv: {1BAD: x}\n")
    assert_error(text, line=6, field="stages[0].env.1BAD", contains="not an environment variable")
    text = one_stage("name: c\nuses: command\nrun: make\nenv: {N: 5}\n")
    assert_error(text, line=6, field="stages[0].env.N", contains="must be a string, not a number")


def test_duplicate_yaml_key() -> None:
    text = """\
    name: p
    stages:
      - name: a
        uses: scan
        uses: validate
    """
    assert_error(text, line=5, field="stages[0].uses", contains="duplicate key (first at line 4)")


def test_yaml_syntax_error() -> None:
    text = "name: p\nstages:\n  - {name: a, uses: scan\n  - {name: b}\n"
    exc = error(text)
    assert exc.field is None
    assert exc.line == 4
    assert exc.message.startswith("line 4: YAML syntax error: ")


def test_yaml_syntax_error_names_the_opening_line() -> None:
    exc = error("name: p\nstages:\n  - name: a\n   uses: scan\n")
    assert exc.line == 4
    assert exc.message.startswith("line 4: YAML syntax error: ")


def test_two_documents_are_refused() -> None:
    exc = error("name: p\n---\nname: q\n")
    assert exc.line == 2
    assert "YAML syntax error" in exc.message


def test_bad_trigger_pattern_names_the_offending_node() -> None:
    text = """\
    name: p
    trigger:
      type: [version.created]
      data:
        group:
          - {prefix: fraud-}
          - {prefixx: x}
    stages: [{name: a, uses: scan}]
    """
    assert_error(text, line=7, field="trigger.data.group[1]", contains="unknown matcher 'prefixx'")


def test_trigger_leaf_must_be_a_list() -> None:
    text = "name: p\ntrigger:\n  type: version.created\nstages: [{name: a, uses: scan}]\n"
    assert_error(text, line=3, field="trigger.type", contains="a leaf must be an array")


def test_trigger_must_be_a_mapping() -> None:
    text = "name: p\ntrigger: version.created\nstages: [{name: a, uses: scan}]\n"
    assert_error(text, line=2, field="trigger", contains="must be an event pattern")


def test_missing_stages() -> None:
    assert_error("name: p\n", line=1, field="stages", contains="required for a pipeline")


def test_empty_stages() -> None:
    assert_error("name: p\nstages: []\n", line=2, field="stages", contains="1 to 50")


def test_bad_approver_count() -> None:
    text = one_stage("name: r\nuses: approval\napprovers:\n  role: approver\n  count: 11\n")
    assert_error(
        text,
        line=7,
        field="stages[0].approvers.count",
        contains="11 is not a whole number from 1 to 10",
    )


def test_approver_count_above_the_named_principals() -> None:
    text = one_stage("name: r\nuses: approval\napprovers: {count: 3, principals: [ann, bob]}\n")
    assert_error(
        text,
        line=5,
        field="stages[0].approvers.count",
        contains="3 approvals needed but only 2 principals",
    )


def test_approver_principal_names() -> None:
    text = one_stage("name: r\nuses: approval\napprovers: {principals: [Ann]}\n")
    assert_error(
        text, line=5, field="stages[0].approvers.principals[0]", contains="'Ann' is not a valid"
    )


def test_bad_pipeline_name() -> None:
    assert_error(
        "name: -p\nstages: [{name: a, uses: scan}]\n",
        line=1,
        field="name",
        contains="'-p' is not a pipeline name",
    )


def test_bad_stage_name() -> None:
    assert_error(one_stage("name: Build\nuses: scan\n"), line=3, field="stages[0].name")


def test_empty_document() -> None:
    assert_error("", line=1, field=None, contains="the document is empty")


def test_document_that_is_not_a_mapping() -> None:
    assert_error("- a\n- b\n", line=1, field=None, contains="must be a mapping")


def test_validate_require_paths() -> None:
    text = one_stage("name: v\nuses: validate\nrequire: [metrics.auc, score]\n")
    assert_error(text, line=5, field="stages[0].require[1]", contains="'score' is not a version")


def test_notify_event_type() -> None:
    text = one_stage("name: n\nuses: notify\ntype: release.done\n")
    assert_error(text, line=5, field="stages[0].type", contains="not a custom event type")


def test_notify_data_values_are_scalars() -> None:
    text = one_stage("name: n\nuses: notify\ntype: custom.x\ndata:\n  a: [1]\n")
    assert_error(text, line=7, field="stages[0].data.a", contains="string, number or boolean")


def test_hook_needs_a_kind() -> None:
    text = one_stage("name: d\nuses: deploy\nenvironment: staging\nhook: {url: x}\n")
    assert_error(text, line=6, field="stages[0].hook", contains="{run: COMMAND} or {webhook")


def test_webhook_secret_and_url() -> None:
    hook = "hook: {webhook: 'https://h.example', secret: short}"
    text = one_stage(f"name: d\nuses: deploy\nenvironment: staging\n{hook}\n")
    assert_error(text, line=6, field="stages[0].hook.secret", contains="at least 16 characters")
    hook = "hook: {webhook: 'ftp://h.example', secret: 0123456789abcdef}"
    text = one_stage(f"name: d\nuses: deploy\nenvironment: staging\n{hook}\n")
    assert_error(text, line=6, field="stages[0].hook.webhook", contains="not an http(s) URL")


def test_health_check_status() -> None:
    check = "check: {url: 'https://svc/health', expect_status: 99}"
    text = one_stage(f"name: d\nuses: deploy\nenvironment: staging\n{check}\n")
    assert_error(text, line=6, field="stages[0].check.expect_status", contains="100 to 599")


def test_boolean_options_must_be_booleans() -> None:
    text = one_stage('name: c\nuses: command\nrun: make\nidempotent: "yes"\n')
    assert_error(text, line=6, field="stages[0].idempotent", contains="must be true or false")


def test_non_finite_numbers_are_refused() -> None:
    text = one_stage("name: r\nuses: approval\ntimeout: .inf\n")
    assert_error(text, line=5, field="stages[0].timeout", contains=".inf is not a finite")


def test_unsupported_yaml_tags() -> None:
    text = one_stage("name: n\nuses: notify\ntype: custom.x\ndata: !!set {a, b}\n")
    assert_error(text, line=6, field="stages[0].data", contains="tag:yaml.org,2002:set")
    text = one_stage("name: !!python/name:os.system n\nuses: scan\n")
    assert_error(text, line=3, field="stages[0].name", contains="is not supported")


def test_merge_keys_are_refused() -> None:
    text = "base: &b {uses: scan}\nname: p\nstages:\n  - <<: *b\n    name: a\n"
    assert_error(text, line=4, field="stages[0]", contains="merge keys (<<) are not supported")


def test_billion_laughs_is_cut_short() -> None:
    lines = ["name: p", "stages: [{name: a, uses: scan}]", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    exc = error("\n".join(lines) + "\n")
    assert f"more than {MAX_NODES} values" in exc.message


def test_recursive_alias_is_cut_short() -> None:
    exc = error("name: p\nstages: &s [*s]\n")
    assert "nested more than 64 levels deep" in exc.message


def test_deep_nesting_is_refused_before_composing() -> None:
    exc = error("name: p\nstages: " + "[" * 5000 + "]" * 5000 + "\n")
    assert (exc.line, exc.field) == (2, None)
    assert "nested more than 64 levels deep" in exc.message


def test_document_size_is_capped() -> None:
    exc = error("name: p\ndescription: " + "x" * (256 * 1024) + "\n")
    assert "larger than 256 KiB" in exc.message


def test_unreadable_character() -> None:
    exc = error("name: p\nstages: [{name: a, uses: scan}]\nx: \x07\n")
    assert (exc.line, exc.field) == (3, None)
    assert exc.message == (
        "line 3: YAML syntax error: character #x0007: special characters are not allowed"
    )
