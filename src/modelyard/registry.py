"""The local registry: every use case, on the embedded (or configured) stores."""

from __future__ import annotations

from pathlib import Path

from modelyard.bootstrap import open_stores
from modelyard.config import Settings
from modelyard.scanning.trust import parse_trusted_globals
from modelyard.services.artifacts.blobs import BlobService
from modelyard.services.artifacts.downloads import ArtifactService
from modelyard.services.artifacts.maintenance import BlobMaintenanceService
from modelyard.services.base import Clock, utc_now
from modelyard.services.catalog.aliases import AliasService
from modelyard.services.catalog.discovery import DiscoveryService
from modelyard.services.catalog.groups import GroupService
from modelyard.services.catalog.versions import VersionService
from modelyard.services.events.delivery_queue import DeliveryQueue
from modelyard.services.events.history import EventService
from modelyard.services.events.rules import RuleService
from modelyard.services.release.deployments import DeploymentService
from modelyard.services.release.engine import RunEngine
from modelyard.services.release.pipelines import PipelineService
from modelyard.services.release.policies import PolicyService
from modelyard.services.release.runs import RunService
from modelyard.services.security.access import LOCAL_PRINCIPAL, AccessService
from modelyard.services.security.audit import AuditService
from modelyard.services.security.scans import ScanService
from modelyard.services.security.secrets import unseal_rule
from modelyard.services.security.signing import SigningService
from modelyard.store.blobs.content import ContentBlobStore


class Registry(
    GroupService,
    VersionService,
    AliasService,
    DiscoveryService,
    SigningService,  # before ArtifactService, which it builds on
    ArtifactService,
    AccessService,
    AuditService,
    BlobService,
    BlobMaintenanceService,
    RuleService,
    EventService,
    DeploymentService,
    PipelineService,
    PolicyService,
    RunService,
    ScanService,
):
    """The modelyard Python API in local mode.

    >>> reg = Registry.open()                      # ./.modelyard or $MODELYARD_HOME
    >>> reg.create_group("fraud-detector")
    >>> reg.register_version("fraud-detector", "./model_dir", metrics={"auc": 0.91})
    >>> reg.fetch("fraud-detector@production")     # a verified local directory
    """

    @classmethod
    def open(
        cls,
        home: str | Path | None = None,
        *,
        db_url: str | None = None,
        blobs_url: str | None = None,
        actor: str | None = None,
        settings: Settings | None = None,
        clock: Clock = utc_now,
    ) -> Registry:
        """Open (creating and migrating if needed) the store described by the settings.

        Local mode acts as ``settings.actor``: the principal ``local`` (created on first
        open with ``admin`` on every group) unless told otherwise; it is bound by the same
        rules as everyone else, separation of duties included.
        """
        settings = settings or Settings.from_env(
            home=Path(home) if home is not None else None,
            db_url=db_url,
            blobs_url=blobs_url,
            actor=actor,
        )
        stores = open_stores(settings)
        registry = cls(
            db=stores.db,
            blobs=stores.blobs,
            cache_dir=stores.cache_dir,
            actor=settings.actor,
            clock=clock,
            audit_key_file=settings.resolved_audit_key_file,
            signing_key_file=settings.resolved_signing_key_file,
            sagemaker=(settings.sagemaker_account, settings.sagemaker_region),
        )
        try:
            registry._scan_trusted_globals = parse_trusted_globals(settings.scan_trusted_globals)
            registry.ensure_admin(LOCAL_PRINCIPAL)
            registry._sign_unsigned_versions()  # a store upgraded from before signed manifests
        except BaseException:
            registry.close()
            raise
        return registry

    def delivery_queue(self) -> DeliveryQueue:
        """The queue event workers consume (local only: workers run next to the store)."""
        keyring = self._blobs.keyring if isinstance(self._blobs, ContentBlobStore) else None
        return DeliveryQueue(
            self._db,
            clock=self._clock,
            identity=self._sagemaker,
            unseal=lambda rule: unseal_rule(rule, keyring),
        )

    def run_engine(self) -> RunEngine:
        """The pipeline engine workers drive (local only: workers run next to the store)."""
        return RunEngine.of(self)
