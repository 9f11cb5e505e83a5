"""modelyard: a self-hosted model registry and release gate.

from modelyard import Registry, Client
reg = Registry.open()                       # local mode: ./.modelyard
reg = Client("http://127.0.0.1:8080", token)  # remote mode: the same methods over HTTP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelyard.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    IntegrityError,
    InvalidTransitionError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    PolicyError,
    StorageError,
    ValidationError,
)

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.domain.approval import ApprovalStatus
    from modelyard.domain.model import (
        AliasMove,
        ApprovalDecision,
        Dataset,
        Group,
        Lineage,
        LineageNode,
        Version,
    )
    from modelyard.domain.paging import Page
    from modelyard.domain.policies import ReleasePolicy
    from modelyard.domain.scans import VersionScan
    from modelyard.domain.signatures import VersionSignature
    from modelyard.domain.signing_keys import TrustedKey
    from modelyard.registry import Registry
    from modelyard.transfer.environment import capture_environment

#: where each public name lives; imported on first use, so ``import modelyard`` costs almost
#: nothing and ``modelyard.Client`` never loads the store (SQLAlchemy), nor ``Registry`` httpx
_LAZY = {
    "Client": "modelyard.client",
    "ApprovalStatus": "modelyard.domain.approval",
    "AliasMove": "modelyard.domain.model",
    "ApprovalDecision": "modelyard.domain.model",
    "Dataset": "modelyard.domain.model",
    "Group": "modelyard.domain.model",
    "Lineage": "modelyard.domain.model",
    "LineageNode": "modelyard.domain.model",
    "Version": "modelyard.domain.model",
    "Page": "modelyard.domain.paging",
    "ReleasePolicy": "modelyard.domain.policies",
    "VersionScan": "modelyard.domain.scans",
    "VersionSignature": "modelyard.domain.signatures",
    "TrustedKey": "modelyard.domain.signing_keys",
    "Registry": "modelyard.registry",
    "capture_environment": "modelyard.transfer.environment",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
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
