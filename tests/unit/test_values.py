"""Names, references, key/value validation, the approval state machine, lineage parsing."""

from __future__ import annotations

import pytest

from modelyard import InvalidTransitionError, ValidationError
from modelyard.domain.approval import ApprovalStatus, check_decision, parse_status
from modelyard.domain.lineage import parse_dataset
from modelyard.domain.references import parse_reference
from modelyard.domain.values import parse_pairs, validate_metrics

P, A, R = ApprovalStatus.PENDING, ApprovalStatus.APPROVED, ApprovalStatus.REJECTED


def test_parse_pairs() -> None:
    assert parse_pairs(["a=1", "b=x=y", "c="], field="tags") == [
        ("a", "1"),
        ("b", "x=y"),
        ("c", ""),
    ]
    with pytest.raises(ValidationError, match="more than once") as info:
        parse_pairs(["auc=1", "auc=2"], field="metrics")
    assert info.value.field == "metrics.auc"
    with pytest.raises(ValidationError, match="key=value"):
        parse_pairs(["novalue"], field="params")


def test_metrics_are_finite_numbers() -> None:
    assert validate_metrics({"a": "1e-3", "b": 2}) == {"a": 0.001, "b": 2.0}
    for bad in ["inf", "nan", "x", None, [1]]:
        with pytest.raises(ValidationError):
            validate_metrics({"a": bad})


@pytest.mark.parametrize(("current", "decided"), [(P, A), (P, R), (A, R), (R, A)])
def test_legal_decisions(current: ApprovalStatus, decided: ApprovalStatus) -> None:
    check_decision(current, decided, reference="g/1")


@pytest.mark.parametrize(("current", "decided"), [(A, A), (R, R), (A, P), (P, P)])
def test_illegal_decisions(current: ApprovalStatus, decided: ApprovalStatus) -> None:
    with pytest.raises(InvalidTransitionError):
        check_decision(current, decided, reference="g/1")


def test_status_values_are_sagemaker_spellings() -> None:
    assert [s.value for s in ApprovalStatus] == ["PendingManualApproval", "Approved", "Rejected"]
    with pytest.raises(ValidationError, match="not one of"):
        parse_status("approved")


def test_references() -> None:
    assert parse_reference("fraud-detector/7").number == 7
    assert parse_reference("fraud-detector@champion").alias == "champion"
    assert str(parse_reference("models:/g/3")) == "g/3"
    for bad in ["g", "g/0", "g/-1", "g/1.5", "g@", "@a", "g@A", "g/", "bad_name/1"]:
        with pytest.raises(ValidationError):
            parse_reference(bad)


def test_parse_dataset() -> None:
    digest = "sha256:" + "ab" * 32
    dataset = parse_dataset(f"train=s3://bucket/train.parquet@{digest}")
    assert (dataset.role, dataset.uri, dataset.digest) == (
        "train",
        "s3://bucket/train.parquet",
        digest,
    )
    assert parse_dataset("eval=https://x.example/e.csv").digest is None
    with pytest.raises(ValidationError, match="ROLE=URI"):
        parse_dataset("just-a-uri")


def test_container_images_are_pinned_by_digest() -> None:
    from modelyard.domain.lineage import validate_lineage
    from modelyard.domain.model import Lineage

    image = "registry.example/train@sha256:" + "0" * 64
    assert validate_lineage(Lineage(container_image=image)).container_image == image
    for bad in ["registry.example/train:latest", "img@sha256:zz"]:
        with pytest.raises(ValidationError) as info:
            validate_lineage(Lineage(container_image=bad))
        assert info.value.field == "lineage.container_image"
