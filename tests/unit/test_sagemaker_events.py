"""Version CloudEvents as SageMaker "Model Package State Change" EventBridge events."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from modelyard.domain.events import Event
from modelyard.domain.patterns import compile_pattern
from modelyard.domain.sagemaker_events import (
    SAGEMAKER_DETAIL_TYPE,
    VERSION_EVENT_TYPES,
    to_sagemaker,
)
from modelyard.errors import ValidationError

EVENT_ID = "0b7c6f2e-5d4a-4c1b-9e8f-7a6b5c4d3e2f"
ACCOUNT = "123456789012"
REGION = "eu-west-2"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/fraud-detector/7"

CANONICAL_RULE = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelPackageGroupName": ["fraud-detector"], "ModelApprovalStatus": ["Approved"]},
}


def version_event(event_type: str, **data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "group": "fraud-detector",
        "version": 7,
        "reference": "fraud-detector/7",
        "approval_status": "PendingManualApproval",
        "manifest_digest": "sha256:" + "ab" * 32,
        "created_by": "alice",
    }
    return {
        "specversion": "1.0",
        "id": EVENT_ID,
        "source": "modelyard",
        "type": event_type,
        "subject": "fraud-detector/7",
        "time": "2026-11-26T10:00:00.123456Z",
        "datacontenttype": "application/json",
        "data": base | data,
    }


def decision(status: str, comment: str = "looks good") -> dict[str, Any]:
    return version_event(
        "version.approval_changed",
        approval_status=status,
        created_at="2026-11-25T09:00:00Z",
        comment=comment,
        previous={"approval_status": "PendingManualApproval"},
    )


def convert(event: dict[str, Any]) -> dict[str, Any]:
    converted = to_sagemaker(event, account=ACCOUNT, region=REGION)
    assert converted is not None
    return converted


# --- mapping of each version event type ------------------------------------------------------


def test_version_event_types_are_the_four_version_events() -> None:
    assert (
        frozenset(
            {"version.created", "version.updated", "version.tagged", "version.approval_changed"}
        )
        == VERSION_EVENT_TYPES
    )


def test_approval_changed_maps_to_the_exact_sagemaker_envelope() -> None:
    assert convert(decision("Approved")) == {
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-26T10:00:00Z",
        "region": REGION,
        "resources": [ARN],
        "detail": {
            "ModelPackageGroupName": "fraud-detector",
            "ModelPackageVersion": 7,
            "ModelPackageArn": ARN,
            "ModelPackageName": "fraud-detector/7",
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "looks good",
            "CreationTime": "2026-11-25T09:00:00Z",
            "LastModifiedTime": "2026-11-26T10:00:00Z",
            "CreatedBy": {"UserProfileName": "alice"},
        },
    }


def test_created_takes_its_creation_time_from_the_event_when_created_at_is_absent() -> None:
    detail = convert(version_event("version.created"))["detail"]
    assert detail == {
        "ModelPackageGroupName": "fraud-detector",
        "ModelPackageVersion": 7,
        "ModelPackageArn": ARN,
        "ModelPackageName": "fraud-detector/7",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
        "CreationTime": "2026-11-26T10:00:00Z",
        "LastModifiedTime": "2026-11-26T10:00:00Z",
        "CreatedBy": {"UserProfileName": "alice"},
    }


def test_created_at_wins_over_the_event_time_and_is_truncated() -> None:
    event = version_event("version.created", created_at="2026-11-25T09:00:00.999999+00:00")
    detail = convert(event)["detail"]
    assert detail["CreationTime"] == "2026-11-25T09:00:00Z"
    assert detail["LastModifiedTime"] == "2026-11-26T10:00:00Z"


def test_updated_maps_full_metadata_to_customer_metadata_properties() -> None:
    event = version_event(
        "version.updated",
        approval_status="Approved",
        created_at="2026-11-25T09:00:00Z",
        metadata={"team": "risk", "owner": "alice"},
        changes={"metadata": {"team": "risk"}},
        previous={"metadata": {"owner": "alice"}},
    )
    detail = convert(event)["detail"]
    assert detail["ModelApprovalStatus"] == "Approved"
    assert detail["CreationTime"] == "2026-11-25T09:00:00Z"
    assert detail["CustomerMetadataProperties"] == {"owner": "alice", "team": "risk"}
    assert "ApprovalDescription" not in detail
    assert "Tags" not in detail


def test_tagged_with_only_partial_changes_carries_no_tags() -> None:
    event = version_event(
        "version.tagged", changes={"tags": {"stage": "prod"}}, previous={"tags": {}}
    )
    detail = convert(event)["detail"]
    assert "Tags" not in detail
    assert "CreationTime" not in detail  # not a creation, and created_at is unknown
    assert detail["LastModifiedTime"] == "2026-11-26T10:00:00Z"
    assert detail["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_full_tags_mapping_becomes_key_value_pairs_sorted_by_key() -> None:
    event = version_event(
        "version.tagged",
        tags={"stage": "prod", "owner": "alice", "cost-centre": "42"},
        changes={"tags": {"stage": "prod"}},
        previous={"tags": {"stage": "dev"}},
    )
    assert convert(event)["detail"]["Tags"] == [
        {"Key": "cost-centre", "Value": "42"},
        {"Key": "owner", "Value": "alice"},
        {"Key": "stage", "Value": "prod"},
    ]


def test_empty_tags_and_metadata_are_omitted() -> None:
    detail = convert(version_event("version.updated", tags={}, metadata={}))["detail"]
    assert "Tags" not in detail
    assert "CustomerMetadataProperties" not in detail


@pytest.mark.parametrize("comment", ["", "   ", None])
def test_approval_description_needs_a_non_empty_comment(comment: str | None) -> None:
    event = decision("Approved")
    event["data"]["comment"] = comment
    assert "ApprovalDescription" not in convert(event)["detail"]


def test_a_comment_on_a_non_approval_event_is_not_an_approval_description() -> None:
    event = version_event("version.updated", comment="not a decision")
    assert "ApprovalDescription" not in convert(event)["detail"]


def test_created_by_is_omitted_when_unknown() -> None:
    event = version_event("version.created")
    del event["data"]["created_by"]
    assert "CreatedBy" not in convert(event)["detail"]


def test_the_id_is_the_cloudevent_id_so_deduplication_works_across_formats() -> None:
    event = decision("Rejected", comment="drift too high")
    assert convert(event)["id"] == event["id"]


def test_a_domain_event_serialised_as_a_cloudevent_converts() -> None:
    when = datetime(2026, 11, 26, 10, 0, 0, 654321, tzinfo=UTC)
    data = version_event("version.created")["data"]
    cloudevent = Event(
        id=EVENT_ID, type="version.created", subject="fraud-detector/7", time=when, data=data
    ).to_cloudevent()
    converted = convert(cloudevent)
    assert converted["time"] == "2026-11-26T10:00:00Z"
    assert converted["detail"]["CreationTime"] == "2026-11-26T10:00:00Z"


def test_the_result_is_json_and_the_input_is_untouched() -> None:
    event = version_event("version.tagged", tags={"b": "2", "a": "1"}, metadata={"k": "v"})
    before = copy.deepcopy(event)
    converted = convert(event)
    assert json.loads(json.dumps(converted)) == converted
    assert event == before
    converted["detail"]["CustomerMetadataProperties"]["k"] = "changed"
    assert event["data"]["metadata"] == {"k": "v"}
    assert convert(event) == convert(before)  # deterministic


# --- non-version events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"specversion": "1.0", "id": EVENT_ID, "type": "group.created", "data": {"group": "g"}},
        {"specversion": "1.0", "id": EVENT_ID, "type": "alias.moved", "data": {"group": "g"}},
        {"specversion": "1.0", "id": EVENT_ID, "type": "version", "data": {}},
        {"specversion": "1.0", "id": EVENT_ID, "type": "Version.Created", "data": {}},
        {"specversion": "1.0", "id": EVENT_ID, "data": {}},
        {"type": ["version.created"]},
        {"type": None},
        {},
    ],
)
def test_non_version_events_give_none(event: dict[str, Any]) -> None:
    assert to_sagemaker(event) is None


def test_an_already_converted_event_gives_none() -> None:
    converted = convert(decision("Approved"))
    assert to_sagemaker(converted) is None


# --- time: ISO-8601 UTC, second precision ----------------------------------------------------


@pytest.mark.parametrize(
    ("cloudevent_time", "expected"),
    [
        ("2026-11-26T10:00:00.123456Z", "2026-11-26T10:00:00Z"),
        ("2026-11-26T10:00:59.999999Z", "2026-11-26T10:00:59Z"),  # truncated, not rounded
        ("2026-11-26T10:00:00.123456789Z", "2026-11-26T10:00:00Z"),  # nanoseconds
        ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00Z"),
        ("2026-11-26T10:00:00+00:00", "2026-11-26T10:00:00Z"),
        ("2026-11-26T01:30:05.5+02:00", "2026-11-25T23:30:05Z"),  # converted to UTC
        ("2026-11-26T10:00:00.250", "2026-11-26T10:00:00Z"),  # no offset: taken as UTC
        ("0999-01-02T03:04:05Z", "0999-01-02T03:04:05Z"),  # four-digit year
    ],
)
def test_time_is_utc_with_second_precision(cloudevent_time: str, expected: str) -> None:
    event = version_event("version.created")
    event["time"] = cloudevent_time
    converted = convert(event)
    assert converted["time"] == expected
    assert converted["detail"]["LastModifiedTime"] == expected
    assert converted["detail"]["CreationTime"] == expected


def test_a_datetime_time_is_accepted() -> None:
    event: dict[str, Any] = version_event("version.updated")
    event["time"] = datetime(2026, 11, 26, 12, 0, 1, 900000, tzinfo=timezone(timedelta(hours=2)))
    assert convert(event)["time"] == "2026-11-26T10:00:01Z"


# --- ARN ---------------------------------------------------------------------------------------


def test_arn_names_region_account_group_and_version() -> None:
    converted = convert(decision("Approved"))
    assert converted["resources"] == [ARN]
    assert converted["detail"]["ModelPackageArn"] == ARN


def test_arn_lowercases_the_group_but_the_names_keep_its_case() -> None:
    event = version_event("version.created", group="Fraud-Detector", version=12)
    detail = convert(event)["detail"]
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/fraud-detector/12"
    assert detail["ModelPackageArn"] == arn
    assert detail["ModelPackageGroupName"] == "Fraud-Detector"
    assert detail["ModelPackageName"] == "Fraud-Detector/12"


def test_defaults_are_a_placeholder_account_in_us_east_1() -> None:
    converted = to_sagemaker(version_event("version.created"))
    assert converted is not None
    assert converted["account"] == "000000000000"
    assert converted["region"] == "us-east-1"
    assert converted["resources"] == [
        "arn:aws:sagemaker:us-east-1:000000000000:model-package/fraud-detector/7"
    ]


# --- the canonical consumer rule ------------------------------------------------------------


def test_the_canonical_consumer_pattern_matches_an_approval_only() -> None:
    rule = compile_pattern(CANONICAL_RULE)
    approved = to_sagemaker(decision("Approved"))
    rejected = to_sagemaker(decision("Rejected", comment="drift too high"))
    assert approved is not None
    assert rejected is not None
    assert rule.matches(approved) is True
    assert rule.matches(rejected) is False
    assert approved["detail-type"] == SAGEMAKER_DETAIL_TYPE


def test_the_canonical_consumer_pattern_ignores_other_groups() -> None:
    event = decision("Approved")
    event["data"]["group"] = "churn-model"
    converted = to_sagemaker(event)
    assert converted is not None
    assert compile_pattern(CANONICAL_RULE).matches(converted) is False


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "account",
    [
        "",
        "12345678901",
        "1234567890123",
        "12345678901a",
        "\uff11" * 12,  # full-width digits are not account digits
        " 123456789012",
        42,
    ],
)
def test_a_bad_account_names_the_account(account: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        to_sagemaker(decision("Approved"), account=account)
    assert raised.value.field == "account"
    assert str(raised.value).startswith("account:")


@pytest.mark.parametrize(
    "region", ["", "us-east", "US-EAST-1", "useast1", "us_east_1", "us-east-1 ", "u-east-1", None]
)
def test_a_bad_region_names_the_region(region: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        to_sagemaker(decision("Approved"), region=region)
    assert raised.value.field == "region"
    assert str(raised.value).startswith("region:")


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1", "ap-southeast-2", "cn-north-1"])
def test_real_region_names_are_accepted(region: str) -> None:
    converted = to_sagemaker(decision("Approved"), region=region)
    assert converted is not None
    assert converted["region"] == region


def test_the_account_and_region_are_checked_for_every_event() -> None:
    with pytest.raises(ValidationError) as raised:
        to_sagemaker({"type": "group.created"}, account="nope")
    assert raised.value.field == "account"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("id",), None, "id"),
        (("id",), "", "id"),
        (("time",), None, "time"),
        (("time",), "yesterday", "time"),
        (("data",), None, "data"),
        (("data", "group"), None, "data.group"),
        (("data", "version"), "7", "data.version"),
        (("data", "version"), True, "data.version"),
        (("data", "version"), 0, "data.version"),
        (("data", "approval_status"), "approved", "data.approval_status"),
        (("data", "approval_status"), ["Approved"], "data.approval_status"),
        (("data", "created_at"), "not a time", "data.created_at"),
    ],
)
def test_a_malformed_version_event_names_the_field(
    path: tuple[str, ...], value: Any, field: str
) -> None:
    event = decision("Approved")
    target = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as raised:
        to_sagemaker(event)
    assert raised.value.field == field
