"""The local registry: every use case, on the embedded (or configured) stores.

``Registry`` is a facade: each public method forwards to the service of its capability
(``services/<capability>/``), built on first use from one shared context and the acting
principal. The table below is the whole public API, grouped as in docs/concepts.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from sqlalchemy import text

from modelyard.bootstrap import open_context
from modelyard.config import Settings
from modelyard.services.artifacts.blobs import BlobService
from modelyard.services.artifacts.downloads import ArtifactService
from modelyard.services.artifacts.maintenance import BlobMaintenanceService
from modelyard.services.base import ServiceBase
from modelyard.services.catalog.aliases import AliasService
from modelyard.services.catalog.discovery import DiscoveryService
from modelyard.services.catalog.groups import GroupService
from modelyard.services.catalog.versions import VersionService
from modelyard.services.context import Clock, ServiceContext, utc_now
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
from modelyard.services.security.scan_queue import ScanQueue
from modelyard.services.security.scans import ScanService
from modelyard.services.security.secrets import unseal_rule
from modelyard.services.security.signing import SigningService

S = TypeVar("S", bound=ServiceBase)
P = ParamSpec("P")
R = TypeVar("R")


class _Forward(Generic[S, P, R]):
    """A Registry method that calls the same method of one service: on an instance it is
    that service's bound method (same signature, docstring and return type, for mypy too);
    on the class it is the service's function (for ``help`` and ``inspect``)."""

    def __init__(self, method: Callable[Concatenate[S, P], R]) -> None:
        owner = method.__qualname__.split(".")[0]
        self._kind: type[S] = vars(sys.modules[method.__module__])[owner]
        self._method = method
        self._name = method.__name__
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[Concatenate[S, P], R]: ...
    @overload
    def __get__(self, obj: Registry, owner: type) -> Callable[P, R]: ...
    def __get__(self, obj: Registry | None, owner: type) -> Any:
        if obj is None:
            return self._method
        bound: Callable[P, R] = getattr(obj._service(self._kind), self._name)
        return bound


def forward(method: Callable[Concatenate[S, P], R]) -> _Forward[S, P, R]:
    return _Forward(method)


class Registry:
    """The modelyard Python API in local mode.

    >>> reg = Registry.open()                      # ./.modelyard or $MODELYARD_HOME
    >>> reg.create_group("fraud-detector")
    >>> reg.register_version("fraud-detector", "./model_dir", metrics={"auc": 0.91})
    >>> reg.fetch("fraud-detector@production")     # a verified local directory
    """

    def __init__(self, ctx: ServiceContext, actor: str = LOCAL_PRINCIPAL) -> None:
        self._ctx = ctx
        self.actor = actor
        self._services: dict[type[ServiceBase], ServiceBase] = {}

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
        ctx = open_context(settings, clock=clock)
        registry = cls(ctx, settings.actor)
        try:
            registry.ensure_admin(LOCAL_PRINCIPAL)
            # a store upgraded from before signed manifests signs its older versions
            registry._service(SigningService).sign_unsigned_versions()
        except BaseException:
            registry.close()
            raise
        return registry

    def _service(self, kind: type[S]) -> S:
        found = self._services.get(kind)
        if found is None:
            found = self._services[kind] = kind(self._ctx, self.actor)
        assert isinstance(found, kind)
        return found

    def acting_as(self, principal: str) -> Registry:
        """The same registry (same stores and caches), acting as another principal."""
        return Registry(self._ctx, principal)

    def close(self) -> None:
        """Release database connections."""
        self._ctx.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> None:
        """Raise unless the metadata database answers (readiness)."""
        with self._ctx.db.transaction(write=False) as conn:
            conn.execute(text("SELECT 1"))

    # -- what workers consume (local only: workers run next to the store) --------------

    def delivery_queue(self) -> DeliveryQueue:
        """The queue event workers consume."""
        ctx = self._ctx
        return DeliveryQueue(
            ctx.db,
            clock=ctx.clock,
            identity=ctx.sagemaker,
            unseal=lambda rule: unseal_rule(rule, ctx.kek),
        )

    def run_engine(self) -> RunEngine:
        """The pipeline engine workers drive."""
        return RunEngine(self._ctx)

    def scan_queue(self) -> ScanQueue:
        """The scan queue workers consume."""
        return ScanQueue(self._ctx)

    # -- groups --------------------------------------------------------------------------
    create_group = forward(GroupService.create_group)
    get_group = forward(GroupService.get_group)
    list_groups = forward(GroupService.list_groups)
    update_group = forward(GroupService.update_group)
    archive_group = forward(GroupService.archive_group)

    # -- versions ------------------------------------------------------------------------
    upload_artifact = forward(VersionService.upload_artifact)
    register_version = forward(VersionService.register_version)
    get_version = forward(VersionService.get_version)
    list_versions = forward(VersionService.list_versions)
    update_description = forward(VersionService.update_description)
    update_model_card = forward(VersionService.update_model_card)
    tag_version = forward(VersionService.tag_version)
    untag_version = forward(VersionService.untag_version)
    set_metadata = forward(VersionService.set_metadata)
    remove_metadata = forward(VersionService.remove_metadata)
    approve_version = forward(VersionService.approve_version)
    reject_version = forward(VersionService.reject_version)
    approval_history = forward(VersionService.approval_history)

    # -- aliases -------------------------------------------------------------------------
    set_alias = forward(AliasService.set_alias)
    delete_alias = forward(AliasService.delete_alias)
    alias_history = forward(AliasService.alias_history)
    list_aliases = forward(AliasService.list_aliases)

    # -- search, lineage, event history, counts ------------------------------------------
    search_versions = forward(DiscoveryService.search_versions)
    lineage = forward(DiscoveryService.lineage)
    list_events = forward(DiscoveryService.list_events)
    summary = forward(DiscoveryService.summary)

    # -- a version's files ---------------------------------------------------------------
    download = forward(ArtifactService.download)
    fetch = forward(ArtifactService.fetch)
    verify_directory = forward(ArtifactService.verify_directory)

    # -- blobs (the upload protocol) and their maintenance -------------------------------
    check_blob_write = forward(BlobService.check_blob_write)
    missing_blobs = forward(BlobService.missing_blobs)
    put_blob = forward(BlobService.put_blob)
    blob_size = forward(BlobService.blob_size)
    read_blob = forward(BlobService.read_blob)
    blob_store_info = forward(BlobMaintenanceService.blob_store_info)
    verify_blobs = forward(BlobMaintenanceService.verify_blobs)
    collect_garbage = forward(BlobMaintenanceService.collect_garbage)
    encrypt_blobs = forward(BlobMaintenanceService.encrypt_blobs)
    rotate_keys = forward(BlobMaintenanceService.rotate_keys)

    # -- pipelines, runs and their approval requests -------------------------------------
    apply_pipeline = forward(PipelineService.apply_pipeline)
    list_pipelines = forward(PipelineService.list_pipelines)
    get_pipeline = forward(PipelineService.get_pipeline)
    diff_pipeline = forward(PipelineService.diff_pipeline)
    ensure_default_pipeline = forward(PipelineService.ensure_default_pipeline)
    start_run = forward(RunService.start_run)
    list_runs = forward(RunService.list_runs)
    get_run = forward(RunService.get_run)
    run_logs = forward(RunService.run_logs)
    cancel_run = forward(RunService.cancel_run)
    retry_run = forward(RunService.retry_run)
    list_approvals = forward(RunService.list_approvals)
    approve_request = forward(RunService.approve_request)
    reject_request = forward(RunService.reject_request)

    # -- environments and release policies -----------------------------------------------
    deploy = forward(DeploymentService.deploy)
    rollback = forward(DeploymentService.rollback)
    environment_history = forward(DeploymentService.environment_history)
    environment_at = forward(DeploymentService.environment_at)
    get_policy = forward(PolicyService.get_policy)
    list_policies = forward(PolicyService.list_policies)
    set_policy = forward(PolicyService.set_policy)
    reset_policy = forward(PolicyService.reset_policy)
    check_policy = forward(PolicyService.check_policy)

    # -- events and rules ----------------------------------------------------------------
    get_event = forward(EventService.get_event)
    list_deliveries = forward(EventService.list_deliveries)
    redrive_deliveries = forward(EventService.redrive_deliveries)
    replay_events = forward(EventService.replay_events)
    create_rule = forward(RuleService.create_rule)
    list_rules = forward(RuleService.list_rules)
    get_rule = forward(RuleService.get_rule)
    enable_rule = forward(RuleService.enable_rule)
    disable_rule = forward(RuleService.disable_rule)
    update_rule = forward(RuleService.update_rule)
    delete_rule = forward(RuleService.delete_rule)
    test_rule = forward(RuleService.test_rule)

    # -- access --------------------------------------------------------------------------
    create_principal = forward(AccessService.create_principal)
    list_principals = forward(AccessService.list_principals)
    whoami = forward(AccessService.whoami)
    create_token = forward(AccessService.create_token)
    list_tokens = forward(AccessService.list_tokens)
    revoke_token = forward(AccessService.revoke_token)
    authenticate = forward(AccessService.authenticate)
    grant = forward(AccessService.grant)
    revoke = forward(AccessService.revoke)
    list_bindings = forward(AccessService.list_bindings)
    check_access = forward(AccessService.check_access)
    ensure_admin = forward(AccessService.ensure_admin)

    # -- audit ---------------------------------------------------------------------------
    audit_log = forward(AuditService.audit_log)
    audit_public_key = forward(AuditService.audit_public_key)
    checkpoint_audit = forward(AuditService.checkpoint_audit)
    verify_audit = forward(AuditService.verify_audit)
    audit_proof = forward(AuditService.audit_proof)
    audit_consistency = forward(AuditService.audit_consistency)
    list_checkpoints = forward(AuditService.list_checkpoints)
    iter_audit_export = forward(AuditService.iter_audit_export)
    export_audit = forward(AuditService.export_audit)

    # -- signatures and scans ------------------------------------------------------------
    signing_public_key = forward(SigningService.signing_public_key)
    version_signatures = forward(SigningService.version_signatures)
    sign_version = forward(SigningService.sign_version)
    add_trusted_key = forward(SigningService.add_trusted_key)
    list_trusted_keys = forward(SigningService.list_trusted_keys)
    remove_trusted_key = forward(SigningService.remove_trusted_key)
    version_scan = forward(ScanService.version_scan)
    scan_version = forward(ScanService.scan_version)
