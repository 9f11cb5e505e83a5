"""Events from a real server (its embedded worker) and to AWS targets on moto's server."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard import Client, Registry
from modelyard.worker.loop import Worker
from tests.conftest import MakeArtifact
from tests.server import running_server
from tests.worker.conftest import AwsClient
from tests.worker.receiver import running_receiver

SAGEMAKER_RULE = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelApprovalStatus": ["Approved"]},
}


@pytest.fixture
def local(db_url: str, tmp_path: Path) -> Iterator[Registry]:
    with Registry.open(
        tmp_path / "home", db_url=db_url, blobs_url=f"file://{tmp_path / 'blobs'}"
    ) as registry:
        yield registry


def deliver(registry: Registry) -> int:
    worker = Worker(registry.delivery_queue())
    try:
        return worker.step()
    finally:
        worker.close()


def test_the_servers_embedded_worker_delivers_what_clients_change(
    local: Registry, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    with running_receiver() as receiver, running_server(local) as url:
        token = local.create_token("local", expires="1d").secret
        with Client(url, token, cache_dir=tmp_path / "cache") as client:
            client.create_rule(
                "versions",
                {"type": [{"prefix": "version."}], "data": {"group": ["fraud"]}},
                [{"type": "webhook", "url": receiver.url, "secret": "x" * 16}],
            )
            client.create_group("fraud")
            client.register_version("fraud", make_artifact())
            receiver.wait_for(1, timeout=10)
            [request] = receiver.delivered()
            assert request.json["type"] == "version.created"
            shown = client.get_event(request.event_id)
            deadline = time.monotonic() + 5
            while shown["deliveries"][0]["status"] != "delivered" and time.monotonic() < deadline:
                time.sleep(0.02)
                shown = client.get_event(request.event_id)
            assert shown["deliveries"][0]["status"] == "delivered"


def _queue(aws: AwsClient) -> tuple[str, Any]:
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    return queue_url, sqs


def _receive(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    found = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    return [json.loads(m["Body"]) for m in found]


def test_a_sagemaker_rule_sends_approvals_to_sqs(
    local: Registry, aws: AwsClient, moto_url: str, make_artifact: MakeArtifact
) -> None:
    queue_url, sqs = _queue(aws)
    local.create_rule(
        "to-sqs",
        SAGEMAKER_RULE,
        [{"type": "sqs", "queue_url": queue_url, "endpoint_url": moto_url}],
    )
    local.create_group("fraud-detector", allow_self_approval=True)
    local.register_version("fraud-detector", make_artifact())
    local.approve_version("fraud-detector/1", comment="ok")
    assert deliver(local) == 1
    [message] = _receive(sqs, queue_url)
    assert message["detail-type"] == "SageMaker Model Package State Change"
    assert message["detail"]["ModelPackageGroupName"] == "fraud-detector"
    assert message["detail"]["ModelApprovalStatus"] == "Approved"


def test_sns_and_eventbridge_targets_deliver(
    local: Registry, aws: AwsClient, moto_url: str
) -> None:
    queue_url, sqs = _queue(aws)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns = aws("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    events = aws("events")
    bus = f"bus-{uuid.uuid4().hex[:12]}"
    events.create_event_bus(Name=bus)
    events.put_rule(
        Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["modelyard"]})
    )
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    local.create_rule(
        "aws",
        {"type": ["group.created"]},
        [
            {"type": "sns", "topic_arn": topic, "endpoint_url": moto_url},
            {"type": "eventbridge", "event_bus": bus, "endpoint_url": moto_url},
        ],
    )
    local.create_group("g")
    assert deliver(local) == 2
    bodies = _receive(sqs, queue_url) + _receive(sqs, queue_url)
    via_sns = [json.loads(b["Message"]) for b in bodies if b.get("Type") == "Notification"]
    via_eventbridge = [b["detail"] for b in bodies if "detail-type" in b]
    assert [e["data"]["group"] for e in via_sns] == ["g"]
    assert [e["data"]["group"] for e in via_eventbridge] == ["g"]
    assert via_sns[0]["id"] == via_eventbridge[0]["id"]
