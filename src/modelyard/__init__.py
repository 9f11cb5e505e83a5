"""modelyard: a self-hosted model registry and release gate.

from modelyard import Registry
reg = Registry.open()
"""

from modelyard.domain.approval import ApprovalStatus
from modelyard.domain.model import (
    AliasMove,
    ApprovalDecision,
    Dataset,
    Group,
    Lineage,
    LineageNode,
    Page,
    Version,
)
from modelyard.errors import (
    ConfigError,
    ConflictError,
    IntegrityError,
    InvalidTransitionError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
    ValidationError,
)
from modelyard.registry import Registry
from modelyard.services.environment import capture_environment

__version__ = "0.1.0"

__all__ = [
    "AliasMove",
    "ApprovalDecision",
    "ApprovalStatus",
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
    "Registry",
    "StorageError",
    "ValidationError",
    "Version",
    "capture_environment",
]
