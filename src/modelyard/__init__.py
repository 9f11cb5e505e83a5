"""modelyard: a self-hosted model registry and release gate.

from modelyard import Registry, Client
reg = Registry.open()                       # local mode: ./.modelyard
reg = Client("http://127.0.0.1:8080", token)  # remote mode: the same methods over HTTP
"""

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
from modelyard.registry import Registry
from modelyard.transfer.environment import capture_environment

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
