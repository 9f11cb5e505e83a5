"""Delivering messages to the AWS target types (SQS, SNS, EventBridge) with boto3.

One ``AwsSender`` serves every AWS target of a worker, from any number of threads: it
keeps one boto3 client per (service, region, endpoint URL, timeout), created under a lock
from a single ``boto3.session.Session`` (boto3 clients are thread-safe once created, the
session that creates them is not). Credentials come from boto3's usual chain.

Each send is one attempt: botocore's own retries are off (modelyard retries with its own
schedule), and the target's ``timeout`` bounds both connecting and each read. A send never
raises for a delivery failure; it returns an ``Outcome`` saying what went wrong.

What arrives:

* SQS: the message body as the SQS body, with the String message attributes
  ``modelyard-event-id`` and ``modelyard-event-type``; a FIFO queue (``….fifo``) gets the
  event's group as ``MessageGroupId`` (``modelyard`` when it has none) and the event id as
  ``MessageDeduplicationId``;
* SNS: the same, published to the topic (FIFO topics likewise);
* EventBridge: one event with ``Source`` = the target's ``source`` (``modelyard``),
  ``DetailType`` = its ``detail_type`` (the event's type), ``Detail`` = the body (a body
  that is not a JSON object is wrapped as ``{"value": …}``, as EventBridge needs an object)
  on the target's ``event_bus`` (``default``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from modelyard.domain.delivery import Message, Outcome
from modelyard.domain.targets import Target

__all__ = ["ATTR_EVENT_ID", "ATTR_EVENT_TYPE", "DEFAULT_GROUP", "AwsSender"]

#: Message attributes carried by SQS and SNS messages.
ATTR_EVENT_ID: Final = "modelyard-event-id"
ATTR_EVENT_TYPE: Final = "modelyard-event-type"
#: FIFO message group of events that have no group.
DEFAULT_GROUP: Final = "modelyard"

_SERVICES: Final = {"sqs": "sqs", "sns": "sns", "eventbridge": "events"}
# https://sqs.<region>.amazonaws.com/… and the legacy https://<region>.queue.amazonaws.com/…
_SQS_HOST_REGION = re.compile(r"^https?://(?:sqs\.)?([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.")
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):")

_ClientKey = tuple[str, str, str | None, float]


class AwsSender:
    """Sends messages to SQS, SNS and EventBridge targets with boto3 (thread-safe)."""

    def __init__(self, *, max_pool_connections: int = 10) -> None:
        """``max_pool_connections``: HTTP connections each client keeps (botocore's default
        is 10; raise it to the number of threads that send at once)."""
        self._max_pool_connections = max_pool_connections
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[_ClientKey, Any] = {}

    def send(self, target: Target, message: Message) -> Outcome:
        """Deliver ``message`` to ``target`` once; never raises for a delivery failure.

        Success is ``ok=True`` with the HTTP status (200). A refusal by AWS is ``ok=False``
        with its HTTP status and ``"<Code>: <Message>"``; no answer at all (no connection,
        a timeout, no credentials, no region) is ``ok=False`` without a status. EventBridge
        refusing the entry inside a successful call is ``ok=False`` with the HTTP status and
        the entry's ``"<ErrorCode>: <ErrorMessage>"``.
        """
        started = time.perf_counter()
        try:
            outcome = self._send(target, message)
        except ClientError as e:
            outcome = _client_error(e)
        except Exception as e:  # botocore's connection/timeout/credential errors, and the rest
            outcome = Outcome(ok=False, error=f"{type(e).__name__}: {e}")
        latency_ms = (time.perf_counter() - started) * 1000
        return Outcome(
            ok=outcome.ok,
            status_code=outcome.status_code,
            error=outcome.error,
            latency_ms=latency_ms,
        )

    def close(self) -> None:
        """Close every cached client's connections. The sender stays usable: a later send
        creates its client again."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _send(self, target: Target, message: Message) -> Outcome:
        service = _SERVICES.get(target.type)
        if service is None:
            return Outcome(ok=False, error=f"{target.type!r} is not an AWS target type")
        client = self._client(service, target)
        if client is None:
            return Outcome(
                ok=False,
                error="no AWS region: set the target's 'region' (or AWS_DEFAULT_REGION)",
            )
        if target.type == "sqs":
            return _send_sqs(client, target, message)
        if target.type == "sns":
            return _send_sns(client, target, message)
        return _send_eventbridge(client, target, message)

    def _client(self, service: str, target: Target) -> Any:
        """The cached client for this target, or ``None`` when no region can be found."""
        endpoint_url: str | None = target.config.get("endpoint_url")
        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session()
            region = _region(target) or self._session.region_name
            if not region:
                return None
            key: _ClientKey = (service, region, endpoint_url, target.timeout)
            client = self._clients.get(key)
            if client is None:
                config = Config(
                    connect_timeout=target.timeout,
                    read_timeout=target.timeout,
                    # one attempt: modelyard retries on its own schedule ("max_attempts"
                    # would count retries only, so 1 of it means two attempts)
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    max_pool_connections=self._max_pool_connections,
                )
                client = self._session.client(
                    service, region_name=region, endpoint_url=endpoint_url, config=config
                )
                self._clients[key] = client
            return client


def _region(target: Target) -> str | None:
    """The target's ``region``, else the region its queue URL or ARN names, else ``None``.

    The region in a queue URL or ARN wins over boto3's default region: the resource exists
    only there, so sending anywhere else could only fail.
    """
    config = target.config
    if config.get("region"):
        return str(config["region"])
    where = str(config.get("queue_url") or config.get("topic_arn") or config.get("event_bus", ""))
    match = _SQS_HOST_REGION.match(where) or _ARN_REGION.match(where)
    return match.group(1) if match else None


def _attributes(message: Message) -> dict[str, dict[str, str]]:
    return {
        ATTR_EVENT_ID: {"DataType": "String", "StringValue": message.event_id},
        ATTR_EVENT_TYPE: {"DataType": "String", "StringValue": message.event_type},
    }


def _fifo(message: Message) -> dict[str, str]:
    return {
        "MessageGroupId": message.group or DEFAULT_GROUP,
        "MessageDeduplicationId": message.event_id,
    }


def _send_sqs(client: Any, target: Target, message: Message) -> Outcome:
    queue_url = str(target.config["queue_url"])
    extra = _fifo(message) if queue_url.endswith(".fifo") else {}
    response = client.send_message(
        QueueUrl=queue_url,
        MessageBody=message.body.decode(),
        MessageAttributes=_attributes(message),
        **extra,
    )
    return Outcome(ok=True, status_code=_status(response))


def _send_sns(client: Any, target: Target, message: Message) -> Outcome:
    topic_arn = str(target.config["topic_arn"])
    extra = _fifo(message) if topic_arn.endswith(".fifo") else {}
    response = client.publish(
        TopicArn=topic_arn,
        Message=message.body.decode(),
        MessageAttributes=_attributes(message),
        **extra,
    )
    return Outcome(ok=True, status_code=_status(response))


def _send_eventbridge(client: Any, target: Target, message: Message) -> Outcome:
    config = target.config
    entry = {
        "Source": config.get("source", "modelyard"),
        "DetailType": config.get("detail_type") or message.event_type,
        "Detail": _detail(message.body),
        "EventBusName": config.get("event_bus", "default"),
    }
    response = client.put_events(Entries=[entry])
    status = _status(response)
    if response.get("FailedEntryCount", 0):
        failed = (response.get("Entries") or [{}])[0]
        code = failed.get("ErrorCode", "Failed")
        return Outcome(
            ok=False, status_code=status, error=f"{code}: {failed.get('ErrorMessage', '')}"
        )
    return Outcome(ok=True, status_code=status)


def _detail(body: bytes) -> str:
    """The body as an EventBridge detail: a JSON object as is, anything else wrapped."""
    text = body.decode()
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return text if isinstance(value, dict) else json.dumps({"value": value})


def _status(response: Any) -> int | None:
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _client_error(error: ClientError) -> Outcome:
    response: dict[str, Any] = getattr(error, "response", None) or {}
    details = response.get("Error", {})
    code = details.get("Code") or "Error"
    text = details.get("Message") or str(error)
    return Outcome(ok=False, status_code=_status(response), error=f"{code}: {text}")
