"""AwsSender against a real moto server: what arrives in SQS, via SNS and via EventBridge,
and how failures come back (never raised)."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from modelyard.domain.delivery import Message
from modelyard.domain.targets import Target, parse_target
from modelyard.worker.aws import AwsSender
from tests.worker.conftest import AwsClient, free_port

BODY = {"event": "version.created", "model": "fraud", "version": 3}


def unique(prefix: str) -> str:
    """A queue/topic/bus name no other test (or xdist worker) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def message(
    body: Any = BODY, *, group: str = "fraud", event_type: str = "version.created"
) -> Message:
    return Message(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        group=group,
        body=json.dumps(body).encode(),
    )


def receive(sqs: Any, queue_url: str, *, count: int = 1, wait_s: float = 5) -> list[dict[str, Any]]:
    """Up to ``count`` messages from the queue, polling until they are there or ``wait_s``."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_s
    while len(messages) < count and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, count - len(messages)),
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages.extend(response.get("Messages", []))
        if len(messages) < count:
            time.sleep(0.05)
    return messages


def create_queue(aws: AwsClient, *, fifo: bool = False, region: str = "us-east-1") -> str:
    name = unique("q") + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    url: str = aws("sqs", region).create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def queue_arn(aws: AwsClient, queue_url: str) -> str:
    attributes = aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn


def assert_delivered(outcome: Any) -> None:
    assert outcome.ok, outcome.error
    assert outcome.status_code == 200
    assert outcome.error == ""
    assert outcome.latency_ms > 0


# --- SQS ---------------------------------------------------------------------------------


def test_sqs_standard_queue_gets_the_body_and_attributes(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    queue_url = create_queue(aws)
    target = parse_target({"type": "sqs", "queue_url": queue_url, "endpoint_url": moto_url})
    sent = message()

    assert_delivered(sender.send(target, sent))

    [received] = receive(aws("sqs"), queue_url)
    assert received["Body"] == sent.body.decode()
    attributes = received["MessageAttributes"]
    assert attributes["modelyard-event-id"] == {"DataType": "String", "StringValue": sent.event_id}
    assert attributes["modelyard-event-type"] == {
        "DataType": "String",
        "StringValue": "version.created",
    }
    assert "MessageGroupId" not in received["Attributes"]


def test_sqs_fifo_queue_gets_group_and_deduplicates_on_the_event_id(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    queue_url = create_queue(aws, fifo=True)
    target = parse_target({"type": "sqs", "queue_url": queue_url, "endpoint_url": moto_url})
    sent, ungrouped = message(group="fraud"), message(group="")

    assert_delivered(sender.send(target, sent))
    assert_delivered(sender.send(target, sent))  # a retry of the same event: deduplicated
    assert_delivered(sender.send(target, ungrouped))

    sqs = aws("sqs")
    received = receive(sqs, queue_url, count=2)
    by_id = {m["MessageAttributes"]["modelyard-event-id"]["StringValue"]: m for m in received}
    assert sorted(by_id) == sorted([sent.event_id, ungrouped.event_id])
    for m in received:  # FIFO hides the rest of a group until its head is deleted
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    assert receive(sqs, queue_url, wait_s=0.3) == []  # no second copy of the retried event
    assert by_id[sent.event_id]["Body"] == sent.body.decode()
    assert by_id[sent.event_id]["Attributes"]["MessageGroupId"] == "fraud"
    assert by_id[sent.event_id]["Attributes"]["MessageDeduplicationId"] == sent.event_id
    assert by_id[ungrouped.event_id]["Attributes"]["MessageGroupId"] == "modelyard"


def test_sqs_region_comes_from_the_target_then_the_queue_url(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    moto_queue_url = create_queue(aws, region="eu-west-1")  # AWS_DEFAULT_REGION is us-east-1
    name = moto_queue_url.rsplit("/", 1)[1]
    aws_style_url = f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"
    targets = [
        parse_target({"type": "sqs", "queue_url": aws_style_url, "endpoint_url": moto_url}),
        parse_target(
            {
                "type": "sqs",
                "queue_url": moto_queue_url,
                "endpoint_url": moto_url,
                "region": "eu-west-1",
            }
        ),
    ]
    for target in targets:
        assert_delivered(sender.send(target, message()))
    assert len(receive(aws("sqs", "eu-west-1"), moto_queue_url, count=2)) == 2


def test_sqs_nonexistent_queue_is_a_failure_naming_it(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    queue_url = create_queue(aws).rsplit("/", 1)[0] + "/" + unique("missing")
    target = parse_target({"type": "sqs", "queue_url": queue_url, "endpoint_url": moto_url})

    outcome = sender.send(target, message())

    assert not outcome.ok
    assert outcome.status_code == 400
    assert "NonExistentQueue" in outcome.error or "QueueDoesNotExist" in outcome.error
    assert "does not exist" in outcome.error
    assert outcome.latency_ms > 0


# --- SNS ---------------------------------------------------------------------------------


def subscribed_topic(aws: AwsClient, *, fifo: bool = False) -> tuple[str, str]:
    """A topic with a queue subscribed to it: ``(topic ARN, queue URL)``."""
    sns = aws("sns")
    name = unique("t") + (".fifo" if fifo else "")
    attributes = {"FifoTopic": "true"} if fifo else {}
    topic_arn: str = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    queue_url = create_queue(aws, fifo=fifo)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn(aws, queue_url))
    return topic_arn, queue_url


def test_sns_topic_delivers_to_a_subscribed_queue(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    topic_arn, queue_url = subscribed_topic(aws)
    target = parse_target({"type": "sns", "topic_arn": topic_arn, "endpoint_url": moto_url})
    sent = message()

    assert_delivered(sender.send(target, sent))

    [received] = receive(aws("sqs"), queue_url)
    envelope = json.loads(received["Body"])  # SNS's notification, not raw delivery
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Message"] == sent.body.decode()
    assert envelope["MessageAttributes"]["modelyard-event-id"] == {
        "Type": "String",
        "Value": sent.event_id,
    }
    assert envelope["MessageAttributes"]["modelyard-event-type"]["Value"] == "version.created"


def test_sns_fifo_topic_delivers_with_the_group(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    topic_arn, queue_url = subscribed_topic(aws, fifo=True)
    target = parse_target({"type": "sns", "topic_arn": topic_arn, "endpoint_url": moto_url})
    sent = message(group="fraud")

    assert_delivered(sender.send(target, sent))

    [received] = receive(aws("sqs"), queue_url)
    assert json.loads(received["Body"])["Message"] == sent.body.decode()
    assert received["Attributes"]["MessageGroupId"] == "fraud"


def test_sns_nonexistent_topic_is_a_failure(moto_url: str, sender: AwsSender) -> None:
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:{unique('missing')}"
    target = parse_target({"type": "sns", "topic_arn": topic_arn, "endpoint_url": moto_url})

    outcome = sender.send(target, message())

    assert not outcome.ok
    assert outcome.status_code == 404
    assert outcome.error.startswith("NotFound: ")


# --- EventBridge -------------------------------------------------------------------------


def bus_to_queue(aws: AwsClient, *, source: str = "modelyard") -> tuple[str, str]:
    """An event bus whose rule (events from ``source``) targets a queue: ``(bus, queue URL)``."""
    events = aws("events")
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    events.put_rule(
        Name="to-queue", EventBusName=bus, EventPattern=json.dumps({"source": [source]})
    )
    queue_url = create_queue(aws)
    events.put_targets(
        Rule="to-queue",
        EventBusName=bus,
        Targets=[{"Id": "queue", "Arn": queue_arn(aws, queue_url)}],
    )
    return bus, queue_url


def test_eventbridge_event_reaches_a_rule_target_with_the_body_as_detail(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    bus, queue_url = bus_to_queue(aws)
    target = parse_target({"type": "eventbridge", "event_bus": bus, "endpoint_url": moto_url})
    sent = message()

    assert_delivered(sender.send(target, sent))

    [received] = receive(aws("sqs"), queue_url)
    event = json.loads(received["Body"])
    assert event["detail"] == BODY
    assert event["source"] == "modelyard"
    assert event["detail-type"] == "version.created"


def test_eventbridge_source_detail_type_and_wrapped_non_object_body(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    bus, queue_url = bus_to_queue(aws, source="acme.models")
    target = parse_target(
        {
            "type": "eventbridge",
            "event_bus": bus,
            "source": "acme.models",
            "detail_type": "Model released",
            "endpoint_url": moto_url,
        }
    )

    assert_delivered(sender.send(target, message(["a", 1])))

    [received] = receive(aws("sqs"), queue_url)
    event = json.loads(received["Body"])
    assert event["detail"] == {"value": ["a", 1]}
    assert event["source"] == "acme.models"
    assert event["detail-type"] == "Model released"


def test_eventbridge_failed_entry_is_a_failure_with_its_error(
    moto_url: str, sender: AwsSender
) -> None:
    target = parse_target({"type": "eventbridge", "endpoint_url": moto_url})

    outcome = sender.send(target, message(event_type=""))  # no detail type: entry refused

    assert not outcome.ok
    assert outcome.status_code == 200  # the call succeeded; its one entry did not
    assert outcome.error.startswith("InvalidArgument: ")
    assert "DetailType" in outcome.error


def test_eventbridge_nonexistent_bus_is_a_failure(moto_url: str, sender: AwsSender) -> None:
    target = parse_target(
        {"type": "eventbridge", "event_bus": unique("missing"), "endpoint_url": moto_url}
    )

    outcome = sender.send(target, message())

    assert not outcome.ok
    assert outcome.status_code == 400
    assert outcome.error.startswith("ResourceNotFoundException: ")


# --- no answer ---------------------------------------------------------------------------


def test_unreachable_endpoint_is_a_failure_not_an_exception(sender: AwsSender) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    target = parse_target(
        {
            "type": "sqs",
            "queue_url": f"{endpoint}/123456789012/{unique('q')}",
            "endpoint_url": endpoint,
            "timeout": 2,
        }
    )

    outcome = sender.send(target, message())

    assert not outcome.ok
    assert outcome.status_code is None
    assert outcome.error.startswith("EndpointConnectionError: Could not connect")
    assert endpoint in outcome.error


class SilentEndpoint(str):
    """The URL of an endpoint that accepts connections and never answers."""

    connections: list[socket.socket]


@pytest.fixture
def silent_endpoint() -> Iterator[SilentEndpoint]:
    """Accepts (and counts) connections, never reads or writes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.05)
        endpoint = SilentEndpoint(f"http://127.0.0.1:{listener.getsockname()[1]}")
        endpoint.connections = []
        done = threading.Event()

        def accept() -> None:
            while not done.is_set():
                try:
                    endpoint.connections.append(listener.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield endpoint
        done.set()
        thread.join()
        for connection in endpoint.connections:
            connection.close()


@pytest.mark.parametrize("kind", ["sqs", "sns", "eventbridge"])
def test_the_target_timeout_is_respected(
    silent_endpoint: SilentEndpoint, sender: AwsSender, kind: str
) -> None:
    spec = {
        "sqs": {"queue_url": f"{silent_endpoint}/123456789012/{unique('q')}"},
        "sns": {"topic_arn": f"arn:aws:sns:us-east-1:123456789012:{unique('t')}"},
        "eventbridge": {},
    }[kind]
    target = parse_target({"type": kind, **spec, "endpoint_url": silent_endpoint, "timeout": 1})

    started = time.perf_counter()
    outcome = sender.send(target, message())
    elapsed = time.perf_counter() - started

    assert not outcome.ok
    assert outcome.status_code is None
    assert outcome.error.startswith("ReadTimeoutError: Read timeout")
    assert elapsed > 0.95  # it waited for the 1 s read timeout...
    assert len(silent_endpoint.connections) == 1  # ...once: botocore's own retries are off
    assert 950 < outcome.latency_ms <= elapsed * 1000


def test_missing_credentials_are_a_failure(
    monkeypatch: pytest.MonkeyPatch, moto_url: str, sender: AwsSender
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    target = parse_target(
        {"type": "sqs", "queue_url": f"{moto_url}/123456789012/q", "endpoint_url": moto_url}
    )

    outcome = sender.send(target, message())

    assert not outcome.ok
    assert outcome.error == "NoCredentialsError: Unable to locate credentials"


def test_missing_region_is_a_failure(
    monkeypatch: pytest.MonkeyPatch, moto_url: str, sender: AwsSender
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    target = parse_target(
        {"type": "sqs", "queue_url": f"{moto_url}/123456789012/q", "endpoint_url": moto_url}
    )

    outcome = sender.send(target, message())

    assert not outcome.ok
    assert "no AWS region" in outcome.error


def test_non_aws_target_is_a_failure(sender: AwsSender) -> None:
    outcome = sender.send(Target(type="log", config={}), message())

    assert not outcome.ok
    assert "not an AWS target type" in outcome.error


# --- threads -----------------------------------------------------------------------------


def test_concurrent_sends_from_many_threads_all_arrive(
    aws: AwsClient, moto_url: str, sender: AwsSender
) -> None:
    queue_url = create_queue(aws)
    target = parse_target({"type": "sqs", "queue_url": queue_url, "endpoint_url": moto_url})
    sent = [message({"n": n}) for n in range(40)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda m: sender.send(target, m), sent))

    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    received = receive(aws("sqs"), queue_url, count=40)
    assert sorted(json.loads(m["Body"])["n"] for m in received) == list(range(40))


def test_close_then_send_again(aws: AwsClient, moto_url: str, sender: AwsSender) -> None:
    queue_url = create_queue(aws)
    target = parse_target({"type": "sqs", "queue_url": queue_url, "endpoint_url": moto_url})

    assert_delivered(sender.send(target, message()))
    sender.close()
    assert_delivered(sender.send(target, message()))
    assert len(receive(aws("sqs"), queue_url, count=2)) == 2
