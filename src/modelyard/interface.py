"""The Python API every way in offers: ``Registry`` (local) and ``Client`` (HTTP) both
implement ``RegistryAPI`` (mypy checks it, return types included). Generated from the
services the Registry forwards to; the methods that only make sense next to the store
(``open``, ``acting_as``, the workers' queues, blob maintenance, …) are not part of it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from modelyard.domain.access import Binding, Decision
from modelyard.domain.audit import AuditEntry, Checkpoint, VerifyReport
from modelyard.domain.model import AliasMove, ApprovalDecision, Group, Lineage, LineageNode, Version
from modelyard.domain.paging import Page
from modelyard.domain.policies import ReleasePolicy
from modelyard.domain.principals import ApiToken, IssuedToken, Principal
from modelyard.domain.references import Reference
from modelyard.domain.scans import VersionScan
from modelyard.domain.signatures import VersionSignature
from modelyard.domain.signing_keys import TrustedKey
from modelyard.transfer.blobs import Readable, StoredBlob
from modelyard.transfer.files import SILENT, Progress, UploadResult
from modelyard.transfer.signatures import SignatureInput


class RegistryAPI(Protocol):
    """Every method of the registry that works the same locally and over HTTP."""

    def close(self) -> None:
        """Release connections."""
        ...

    def ping(self) -> None:
        """Raise unless the registry answers (readiness)."""
        ...

    def create_group(
        self,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        allow_self_approval: bool = False,
    ) -> Group:
        """Create a named family of versions."""
        ...

    def get_group(self, name: str) -> Group: ...

    def list_groups(
        self, *, include_archived: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[Group]:
        """Groups by name; ``cursor`` is the ``next_cursor`` of the previous page."""
        ...

    def update_group(
        self,
        name: str,
        *,
        description: str | None = None,
        set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
        allow_self_approval: bool | None = None,
        protected_aliases: Sequence[str] | None = None,
    ) -> Group:
        """Change a group's description and/or tags (set some, remove others)."""
        ...

    def archive_group(self, name: str) -> Group:
        """Hide a group from listings and refuse new versions; its versions stay readable."""
        ...

    def upload_artifact(
        self, directory: str | Path, *, progress: Progress = SILENT
    ) -> UploadResult:
        """Store a directory's files (only those not stored yet); returns the manifest."""
        ...

    def register_version(
        self,
        group: str,
        artifact: str | Path | UploadResult,
        *,
        metrics: Mapping[str, float | str] | None = None,
        params: Mapping[str, Any] | None = None,
        lineage: Lineage | None = None,
        framework: str | None = None,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
        description: str = "",
        model_card: str = "",
        signature: SignatureInput | None = None,
        sign_with: str | Path | None = None,
        progress: Progress = SILENT,
    ) -> Version:
        """Register a new immutable version of ``group`` from a directory (or an upload)."""
        ...

    def get_version(self, ref: str | Reference) -> Version:
        """A version by ``group/N``, ``group@alias`` or ``group@latest``."""
        ...

    def list_versions(
        self, group: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Version]:
        """A group's versions, newest first."""
        ...

    def update_description(self, ref: str, description: str) -> Version: ...

    def update_model_card(self, ref: str, model_card: str) -> Version: ...

    def tag_version(self, ref: str, tags: Mapping[str, str]) -> Version:
        """Set (add or overwrite) tags on a version."""
        ...

    def untag_version(self, ref: str, keys: Iterable[str]) -> Version: ...

    def set_metadata(
        self, ref: str, metadata: Mapping[str, str], *, remove: Iterable[str] = ()
    ) -> Version:
        """Set (and remove) custom metadata pairs in one change; at most 50 in all."""
        ...

    def remove_metadata(self, ref: str, keys: Iterable[str]) -> Version: ...

    def approve_version(
        self, ref: str, *, comment: str = "", break_glass: str | None = None
    ) -> Version:
        """Set approval status Approved, recording who, when and why."""
        ...

    def reject_version(self, ref: str, *, comment: str) -> Version:
        """Set approval status Rejected; a comment saying why is required."""
        ...

    def approval_history(self, ref: str) -> list[ApprovalDecision]: ...

    def set_alias(self, group: str, alias: str, version: int | str, *, reason: str = "") -> Version:
        """Point ``group@alias`` at version ``version`` (creating the alias if new)."""
        ...

    def delete_alias(self, group: str, alias: str, *, reason: str = "") -> None: ...

    def alias_history(
        self, group: str, alias: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[AliasMove]:
        """Every move of the alias, oldest first (also after it was deleted)."""
        ...

    def list_aliases(self, group: str) -> dict[str, int]:
        """``{alias: version number}`` of a group's current aliases."""
        ...

    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Version]:
        """Versions across all groups matching ``filter`` (see docs/search.md)."""
        ...

    def lineage(
        self,
        ref: str,
        *,
        direction: Literal["upstream", "downstream"] = "upstream",
        depth: int = 10,
    ) -> list[LineageNode]:
        """Ancestors (``upstream``) or descendants (``downstream``) of a version, nearest first."""
        ...

    def list_events(
        self, *, type: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest outbox events first (CloudEvents JSON)."""
        ...

    def summary(self) -> dict[str, int]:
        """How many groups, versions, aliases, distinct blobs and events the store holds."""
        ...

    def download(
        self,
        ref: str,
        destination: str | Path,
        *,
        overwrite: bool = False,
        progress: Progress = SILENT,
    ) -> Version:
        """Write a version's files into ``destination``, verifying the registry's signature and
        every file's sha256."""
        ...

    def fetch(self, ref: str, *, progress: Progress = SILENT) -> Path:
        """A local directory with the version's files, from a cache keyed by the manifest's listing
        (every path, size and sha256)."""
        ...

    def verify_directory(self, ref: str, directory: str | Path) -> list[str]:
        """Compare a directory with a version's signed manifest; returns the problems (empty:
        same). Raises IntegrityError when the manifest does not match the registry's
        signature."""
        ...

    def check_blob_write(self) -> None:
        """Raise unless the caller may upload blobs (a contributor on some group)."""
        ...

    def missing_blobs(self, digests: Iterable[str]) -> set[str]:
        """The digests the blob store lacks (what a client must upload)."""
        ...

    def put_blob(self, stream: Readable, *, sha256: str) -> StoredBlob:
        """Store one blob from a stream; it must hash to ``sha256`` or nothing is stored."""
        ...

    def blob_size(self, sha256: str) -> int: ...

    def read_blob(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """A blob's bytes, for callers who may read a version that contains it."""
        ...

    def apply_pipeline(self, source: str) -> dict[str, Any]:
        """Validate a pipeline YAML document and store it as the pipeline's next revision
        (``changed`` is False, and nothing is stored, when it equals the latest one)."""
        ...

    def list_pipelines(self) -> list[dict[str, Any]]:
        """The latest revision of every pipeline."""
        ...

    def get_pipeline(self, name: str, *, revision: int | None = None) -> dict[str, Any]:
        """A pipeline's latest revision, or ``revision``: its YAML and normalized spec."""
        ...

    def diff_pipeline(
        self, name: str, *, from_revision: int, to_revision: int | None = None
    ) -> str:
        """A unified diff of two revisions' YAML (``to_revision`` defaults to the latest)."""
        ...

    def start_run(self, pipeline: str, ref: str) -> dict[str, Any]:
        """Start a run of ``pipeline``'s latest revision for version ``ref`` (by hand; a pipeline's
        ``trigger:`` starts runs on events). One active run per version."""
        ...

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        group: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Runs, newest first."""
        ...

    def get_run(self, run_id: int) -> dict[str, Any]:
        """A run with its stages: status, attempts, timings, outputs (gate values, metrics,
        deployment), errors."""
        ...

    def run_logs(self, run_id: int, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Log lines of a run's stages, oldest first, after line id ``after`` (to follow)."""
        ...

    def cancel_run(self, run_id: int, *, reason: str = "") -> dict[str, Any]:
        """Stop an active run; a stage in progress finishes its attempt, nothing more runs."""
        ...

    def retry_run(self, run_id: int, *, from_stage: str | None = None) -> dict[str, Any]:
        """Run a failed or cancelled run again from ``from_stage`` (default: the stage that
        failed); earlier stages keep their results."""
        ...

    def list_approvals(
        self, *, mine: bool = False, status: str | None = "pending", limit: int = 100
    ) -> list[dict[str, Any]]:
        """Approval requests, newest first; ``mine``: only those you may decide now."""
        ...

    def approve_request(self, request_id: int, *, comment: str = "") -> dict[str, Any]:
        """Approve an approval request (you must hold its role on the group, not be the registrant
        unless allowed, and be one of its named approvers if it has any)."""
        ...

    def reject_request(self, request_id: int, *, comment: str) -> dict[str, Any]:
        """Reject an approval request; a comment saying why is required. The run fails and the
        version becomes Rejected."""
        ...

    def deploy(self, ref: str, *, to: str, reason: str = "") -> dict[str, Any]:
        """Deploy version ``ref`` (``fraud/7``, or ``fraud@staging`` to promote) to the environment
        ``to``: its policy is checked (production: Approved), the environment moves, and
        the deployment is recorded and audited."""
        ...

    def rollback(self, group: str, *, env: str, reason: str = "") -> dict[str, Any]:
        """Put ``env`` back on the version of its newest successful deployment other than the
        current one; refuses when there is none."""
        ...

    def environment_history(
        self, group: str, env: str, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The environment's deployments, newest first (pipeline, manual, rollbacks)."""
        ...

    def environment_at(self, group: str, env: str, *, time: str | datetime) -> dict[str, Any]:
        """Which version served ``env`` at ``time`` (ISO-8601): ``version`` is None when none did;
        ``since`` is when it got there."""
        ...

    def get_policy(self, group: str, target: str) -> ReleasePolicy:
        """``group``'s release policy for ``target`` (``approval`` or an environment)."""
        ...

    def list_policies(self, group: str) -> list[ReleasePolicy]:
        """Every target with a policy: the defaults (approval, production) and those set."""
        ...

    def set_policy(self, group: str, target: str, clauses: list[str]) -> ReleasePolicy:
        """Replace ``group``'s policy for ``target`` with ``clauses`` (``[]``: require nothing).
        Needs ``group.configure``; audited, with the previous clauses."""
        ...

    def reset_policy(self, group: str, target: str) -> ReleasePolicy:
        """Drop ``group``'s own policy for ``target``: the default applies again."""
        ...

    def check_policy(self, ref: str, target: str) -> list[str]:
        """Why ``ref`` may not be approved / deployed to ``target`` now (empty: it may)."""
        ...

    def get_event(self, event_id: str) -> dict[str, Any]:
        """One event (CloudEvents JSON) with every delivery and every attempt of each: when,
        worker, status code, latency and error."""
        ...

    def list_deliveries(
        self, *, status: str | None = None, rule: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest deliveries first; ``status='dead'`` lists the dead letters."""
        ...

    def redrive_deliveries(
        self, ids: Sequence[int] | None = None, *, rule: str | None = None, all_dead: bool = False
    ) -> int:
        """Queue dead-lettered deliveries again — these ``ids``, all of ``rule``'s, or (with
        ``all_dead``) every one; returns how many. They get a fresh attempt budget and
        ``max_age``; attempt numbers go on counting."""
        ...

    def replay_events(
        self, rule: str, *, since: str | datetime, until: str | datetime | None = None
    ) -> int:
        """Deliver again, to ``rule``'s targets, every past event since ``since`` (``2h``, ``7d``
        or ISO-8601) that matches it now; returns how many deliveries were queued.
        Receivers see the same event ids (deduplicate on them)."""
        ...

    def create_rule(
        self,
        name: str,
        pattern: Mapping[str, Any] | str,
        targets: Sequence[Mapping[str, Any]],
        *,
        format: str | None = None,
        transform: Mapping[str, Any] | None = None,
        description: str = "",
        enabled: bool = True,
    ) -> dict[str, Any]:
        """Create a rule: events matching ``pattern`` (EventBridge syntax) go to ``targets``."""
        ...

    def list_rules(self) -> list[dict[str, Any]]:
        """Every rule, by name (webhook secrets redacted)."""
        ...

    def get_rule(self, name: str) -> dict[str, Any]:
        """One rule (webhook secrets redacted)."""
        ...

    def enable_rule(self, name: str) -> dict[str, Any]:
        """Route new matching events to the rule's targets again."""
        ...

    def disable_rule(self, name: str) -> dict[str, Any]:
        """Stop routing new events to the rule (queued deliveries still go out)."""
        ...

    def update_rule(
        self,
        name: str,
        *,
        pattern: Mapping[str, Any] | str | None = None,
        targets: Sequence[Mapping[str, Any]] | None = None,
        format: str | None = None,
        transform: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Change a rule in place (what is not given stays). ``targets`` replaces them all; a
        webhook target whose ``secret`` is ``********`` (as reads show it) keeps the
        secret of the webhook at the same position, so a read rule can be edited and
        sent back. ``transform={}`` removes the transform. Pending deliveries to removed
        targets are cancelled; the rule keeps seeing events from when it was created or
        enabled."""
        ...

    def delete_rule(self, name: str) -> None:
        """Delete a rule; its pending deliveries are cancelled, its history is kept."""
        ...

    def test_rule(self, name: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Would ``event`` (a modelyard CloudEvent, or a SageMaker-shaped event for a ``sagemaker``
        rule) match rule ``name``, and what would its targets receive?"""
        ...

    def create_principal(self, name: str, *, service: bool = False) -> Principal:
        """A user (or, with ``service``, a service account) that tokens and roles attach to."""
        ...

    def list_principals(self, *, limit: int = 100, cursor: str | None = None) -> Page[Principal]:
        """Principals by name."""
        ...

    def whoami(self) -> dict[str, object]:
        """The acting principal and its role bindings (needs no role)."""
        ...

    def create_token(
        self, principal: str, *, expires: str | None = "90d", description: str = ""
    ) -> IssuedToken:
        """A new API token for ``principal``; its secret is in the result and nowhere else."""
        ...

    def list_tokens(
        self, *, principal: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page[ApiToken]:
        """Tokens (never their secrets), oldest first: all of them, or one principal's."""
        ...

    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke a token at once; an admin may revoke any, a principal its own."""
        ...

    def grant(self, principal: str, role: str, *, groups: str = "*") -> Binding:
        """Give ``principal`` ``role`` on the groups matching ``groups`` (e.g. ``fraud-*``)."""
        ...

    def revoke(self, principal: str, role: str, *, groups: str = "*") -> None:
        """Remove one role binding."""
        ...

    def list_bindings(self, *, principal: str | None = None) -> list[Binding]: ...

    def check_access(self, principal: str, action: str, target: str) -> Decision:
        """Would ``principal`` be allowed ``action`` (a verb or action name) on ``target`` (a group
        or a reference)? Explains which binding allows or why it is denied."""
        ...

    def audit_log(
        self,
        *,
        group: str | None = None,
        resource: str | None = None,
        actor: str | None = None,
        since: str | datetime | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest audit entries first; filter by group (its versions and aliases too), resource
        prefix, principal, time (``7d`` or ISO-8601) and outcome."""
        ...

    def audit_public_key(self) -> str:
        """The PEM public key that audit checkpoints verify with."""
        ...

    def checkpoint_audit(self) -> Checkpoint:
        """Sign the log's current size and Merkle root (no-op if nothing was appended)."""
        ...

    def verify_audit(self) -> VerifyReport:
        """Recompute every entry's hash, every chain link and every checkpoint's root and
        signature; the report names the first edited, deleted or reordered entry."""
        ...

    def audit_proof(self, seq: int) -> dict[str, Any]:
        """An inclusion proof of entry ``seq`` in a signed checkpoint, verifiable offline
        (``modelyard audit verify-proof``) with the public key it carries."""
        ...

    def audit_consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        """A consistency proof that the checkpoint at ``new_size`` extends the one at ``old_size``
        (the log only grew in between)."""
        ...

    def list_checkpoints(self) -> list[Checkpoint]: ...

    def iter_audit_export(self) -> Iterator[str]:
        """The whole log as JSON lines an auditor verifies without the server."""
        ...

    def export_audit(self, destination: str | Path) -> int:
        """Write :meth:`iter_audit_export` to a file; returns the number of entries."""
        ...

    def signing_public_key(self) -> str:
        """The PEM public key the registry signs every version's manifest with; hand it to
        verifiers out of band (``modelyard version verify --public-key``)."""
        ...

    def version_signatures(self, ref: str) -> list[VersionSignature]:
        """The version's signatures, registry's first, each verified now (``valid``)."""
        ...

    def sign_version(
        self,
        ref: str,
        *,
        signature: SignatureInput | None = None,
        sign_with: str | Path | None = None,
    ) -> VersionSignature:
        """Attach a model-signing signature to a version: a bundle made by ``model_signing sign
        key`` (``signature``), or one made here from the version's verified files with
        an EC private key (``sign_with``). It must verify with a key the group trusts
        and pin exactly the version's files and sha256 digests."""
        ...

    def add_trusted_key(self, group: str, name: str, public_key: str) -> TrustedKey:
        """Trust an EC public key (PEM) for model-signing signatures on ``group``'s versions, under
        ``name`` (the signer recorded on the signatures it verifies); admins only."""
        ...

    def list_trusted_keys(self, group: str) -> list[TrustedKey]:
        """The keys whose model-signing signatures ``group`` accepts, by name."""
        ...

    def remove_trusted_key(self, group: str, name: str) -> TrustedKey:
        """Stop trusting a key: signatures it made stay recorded but no longer count as valid
        (``signature_state``, ``version_signatures``); admins only."""
        ...

    def version_scan(self, ref: str | Reference) -> VersionScan:
        """The newest scan of a version — ``pending``, ``running`` or ``done`` with its verdict and
        every file's outcome. NotFoundError if the version was never scanned (registered
        before scanning existed: ``scan_version`` scans it)."""
        ...

    def scan_version(
        self, ref: str | Reference, *, wait: bool = True, timeout: float = 600.0
    ) -> VersionScan:
        """Scan a version's files again (needs ``version.scan``); joins the scan already queued or
        running, if any. With ``wait`` (local mode: done in this process unless a worker
        holds it) returns the finished scan, or the unfinished one after ``timeout``
        seconds; without, returns the queued scan at once."""
        ...


if TYPE_CHECKING:  # mypy proves both implementations satisfy the protocol
    from modelyard.client import Client
    from modelyard.registry import Registry

    def _local(registry: Registry) -> RegistryAPI:
        return registry

    def _remote(client: Client) -> RegistryAPI:
        return client
