"""The public API surface is deliberate: ``modelyard.__all__`` is pinned here."""

from __future__ import annotations

import modelyard
from modelyard import Lineage, capture_environment


def test_all_is_pinned() -> None:
    assert sorted(modelyard.__all__) == [
        "AliasMove",
        "ApprovalDecision",
        "ApprovalStatus",
        "AuthenticationError",
        "Client",
        "ConfigError",
        "ConflictError",
        "Dataset",
        "Group",
        "IntegrityError",
        "InvalidTransitionError",
        "Lineage",
        "LineageNode",
        "ModelyardError",
        "NotFoundError",
        "Page",
        "PermissionDeniedError",
        "PolicyError",
        "Registry",
        "ReleasePolicy",
        "StorageError",
        "TrustedKey",
        "ValidationError",
        "Version",
        "VersionScan",
        "VersionSignature",
        "capture_environment",
    ]
    for name in modelyard.__all__:
        assert hasattr(modelyard, name)


def test_every_error_is_a_modelyard_error() -> None:
    for name in modelyard.__all__:
        value = getattr(modelyard, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, modelyard.ModelyardError)


def test_capture_environment_keeps_what_is_given() -> None:
    captured = capture_environment(Lineage(python_version="3.9.1"))
    assert captured.python_version == "3.9.1"
    assert any(p.lower().startswith("sqlalchemy==") for p in captured.packages)
    assert capture_environment().python_version.count(".") == 2  # type: ignore[union-attr]
