"""Webhook secrets at rest: sealed by the store's key-encryption key, in plaintext only where
deliveries are signed; re-sealed by key rotation; sealed by `blobs encrypt`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from modelyard import Registry, ValidationError
from modelyard.config import Settings

SECRET = "whsec-4f9b2c7e1a8d6035b2e9c4a1"
TARGET = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": SECRET}


def _stored_secret(db_url: str, rule: str) -> str:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        targets = conn.execute(
            text("SELECT targets FROM rules WHERE name = :name"), {"name": rule}
        ).scalar_one()
    engine.dispose()
    targets = json.loads(targets) if isinstance(targets, str) else targets
    return str(targets[0]["secret"])


def _delivered_secret(registry: Registry) -> str:
    """The secret the delivery worker would sign with (routes and leases one event)."""
    queue = registry.delivery_queue()
    registry.create_group(f"g{len(registry.list_groups().items)}")  # an event to deliver
    queue.route(worker="test")
    work = queue.claim(worker="test", lease=timedelta(minutes=1), batch=1)
    assert work is not None and work.rule is not None
    return str(work.rule.targets[0].config["secret"])


def _open(tmp_path: Path, db_url: str, **settings: object) -> Registry:
    blobs = f"file://{tmp_path / 'blobs'}"
    return Registry.open(
        settings=Settings(home=tmp_path / "home", db_url=db_url, blobs_url=blobs, **settings)
    )  # type: ignore[arg-type]


def test_secrets_are_sealed_at_rest_and_clear_only_to_the_sender(
    tmp_path: Path, db_url: str
) -> None:
    with _open(tmp_path, db_url) as registry:
        registry.create_rule("hook", {"source": ["modelyard"]}, targets=[TARGET])
        stored = _stored_secret(db_url, "hook")
        assert stored.startswith("sealed:v1:file:") and SECRET not in stored
        assert registry.get_rule("hook")["targets"][0]["secret"] == "********"
        assert _delivered_secret(registry) == SECRET
        # editing the rule with the redacted secret keeps the sealed one
        registry.update_rule("hook", targets=[{**TARGET, "secret": "********"}])
        assert _stored_secret(db_url, "hook") == stored

        rotated = registry.rotate_keys()
        resealed = _stored_secret(db_url, "hook")
        assert resealed.startswith(f"sealed:v1:{rotated.key}:") and resealed != stored
        assert registry.audit_log(limit=1)[0].details["resealed_rules"] == 1
    with _open(tmp_path, db_url) as registry:  # only the new key is in the key file now
        assert _delivered_secret(registry) == SECRET


def test_a_plaintext_store_keeps_them_until_it_is_encrypted(tmp_path: Path, db_url: str) -> None:
    with _open(tmp_path, db_url, blob_encryption=False) as registry:
        registry.create_rule("hook", {"source": ["modelyard"]}, targets=[TARGET])
        assert _stored_secret(db_url, "hook") == SECRET, "no key-encryption key to seal with"
        registry.encrypt_blobs()
        assert _stored_secret(db_url, "hook").startswith("sealed:v1:")
        assert _delivered_secret(registry) == SECRET


def test_a_secret_that_looks_sealed_is_refused(tmp_path: Path, db_url: str) -> None:
    with _open(tmp_path, db_url) as registry:
        with pytest.raises(ValidationError, match="must not start with") as refused:
            registry.create_rule(
                "hook", {"source": ["modelyard"]}, targets=[{**TARGET, "secret": "sealed:v1:x:y"}]
            )
        assert refused.value.field == "targets[0].secret"
        assert registry.list_rules() == []
