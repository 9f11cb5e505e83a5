"""AWS targets' fixtures: boto3 clients on the moto server (``moto_url``, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from modelyard.worker.aws import AwsSender
from tests.conftest import REGION, free_port

__all__ = ["REGION", "AwsClient", "free_port"]


@pytest.fixture(autouse=True)
def _aws_env(aws_env: None) -> None:
    """Every AWS-target test runs with fake credentials (see tests/conftest.py)."""


AwsClient = Callable[..., Any]


@pytest.fixture
def aws(moto_url: str) -> Iterator[AwsClient]:
    """Plain boto3 clients on the moto server, to set up and inspect: ``aws("sqs")``."""
    clients: list[Any] = []

    def make(service: str, region: str = REGION) -> Any:
        client = boto3.session.Session().client(service, region_name=region, endpoint_url=moto_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sender() -> Iterator[AwsSender]:
    """The sender under test, closed at the end."""
    aws_sender = AwsSender()
    yield aws_sender
    aws_sender.close()
