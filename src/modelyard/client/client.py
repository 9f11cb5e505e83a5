"""``Client(url, token)``: the registry over HTTP, with the same methods, arguments, return
types and exceptions as the local :class:`~modelyard.Registry`.

Uploads hash locally, ask the server which blobs it lacks, stream only those, then
register; downloads stream and are verified here, against the manifest's digests.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from modelyard.client.remote_blobs import RemoteBlobStore
from modelyard.client.transport import Transport
from modelyard.domain import wire
from modelyard.domain.access import Binding, Decision
from modelyard.domain.audit import AuditEntry, Checkpoint, VerifyReport
from modelyard.domain.model import AliasMove, ApprovalDecision, Group, Lineage, LineageNode, Version
from modelyard.domain.paging import Page, paged
from modelyard.domain.policies import ReleasePolicy
from modelyard.domain.principals import ApiToken, IssuedToken, Principal
from modelyard.domain.references import Reference, parse_reference
from modelyard.domain.scans import VersionScan, check_timeout
from modelyard.domain.signatures import REGISTRY, VersionSignature
from modelyard.domain.signing_keys import TrustedKey, load_registry_key
from modelyard.domain.version_spec import validate_version_spec
from modelyard.errors import ValidationError
from modelyard.transfer.blobs import Readable, StoredBlob
from modelyard.transfer.destinations import write_lines
from modelyard.transfer.files import SILENT, Progress, UploadResult, upload_directory
from modelyard.transfer.local_copies import (
    COMPLETE_MARKER,
    check_registry_signature,
    download_version,
    fetch_version,
    verify_version_directory,
)
from modelyard.transfer.model_signer import check_private_key, sign_directory
from modelyard.transfer.signatures import (
    SignatureInput,
    read_signature,
    registration_signature,
    signer_of,
)

API = "/api/v1"
SCAN_POLL_FIRST_S, SCAN_POLL_MAX_S = 0.1, 2.0
GROUP_SEEN_TTL_S = 5.0


def _q(value: str) -> str:
    return quote(value, safe="")


def _when(value: str | datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


class Client:
    """The modelyard Python API in remote mode.

    >>> reg = Client("http://127.0.0.1:8080", token="my_…")
    >>> reg.register_version("fraud-detector", "./model_dir", metrics={"auc": 0.91})
    """

    def __init__(
        self, url: str, token: str | None = None, *, cache_dir: str | Path | None = None
    ) -> None:
        self._t = Transport(url, token)
        self._blobs = RemoteBlobStore(self._t)
        self._cache_dir = Path(cache_dir or Path.home() / ".cache" / "modelyard")
        self.url = self._t.base
        self._groups_seen: dict[str, float] = {}
        self._registry_key: Ed25519PublicKey | None = None  # the server's manifest-signing key

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._t.call("GET", API + path, params=clean)

    def _send(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._t.call(method, API + path, json=body, params=clean)

    @staticmethod
    def _version_path(ref: str | Reference) -> str:
        parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
        selector = str(parsed.number) if parsed.number is not None else f"@{parsed.alias}"
        return f"/groups/{_q(parsed.group)}/versions/{_q(selector)}"

    # -- groups -----------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        allow_self_approval: bool = False,
    ) -> Group:
        body = {
            "name": name,
            "description": description,
            "tags": dict(tags or {}),
            "allow_self_approval": allow_self_approval,
        }
        return wire.group_from(self._send("POST", "/groups", body))

    def get_group(self, name: str) -> Group:
        return wire.group_from(self._get(f"/groups/{_q(name)}"))

    @paged
    def list_groups(
        self, *, include_archived: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[Group]:
        data = self._get("/groups", include_archived=include_archived, limit=limit, cursor=cursor)
        return wire.page_from(data, wire.group_from)

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
        body = {
            "description": description,
            "set_tags": dict(set_tags or {}),
            "remove_tags": list(remove_tags),
            "allow_self_approval": allow_self_approval,
            "protected_aliases": None if protected_aliases is None else list(protected_aliases),
        }
        return wire.group_from(self._send("PATCH", f"/groups/{_q(name)}", body))

    def archive_group(self, name: str) -> Group:
        return wire.group_from(self._send("POST", f"/groups/{_q(name)}/archive"))

    # -- versions ---------------------------------------------------------------------

    def upload_artifact(
        self, directory: str | Path, *, progress: Progress = SILENT
    ) -> UploadResult:
        """Hash a directory locally and upload only the blobs the server lacks."""
        return upload_directory(self._blobs, Path(directory), progress)

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
        """Validate here, upload what is missing, then register (as ``Registry`` does);
        ``sign_with`` signs the directory here, so the private key never leaves this machine."""
        spec = validate_version_spec(
            group,
            metrics=metrics,
            params=params,
            lineage=lineage,
            framework=framework,
            tags=tags,
            metadata=metadata,
            description=description,
            model_card=model_card,
        )
        if not isinstance(artifact, UploadResult):
            self._precheck(group)
        bundle = registration_signature(artifact, signature=signature, sign_with=sign_with)
        if not isinstance(artifact, UploadResult):
            if bundle is not None:  # an untrusted signer is refused before anything is uploaded
                signer_of(bundle, self.list_trusted_keys(group), group=group)
            artifact = self.upload_artifact(artifact, progress=progress)
        body = {
            "files": artifact.manifest.to_list(),
            **spec,
            "lineage": spec["lineage"].to_dict(),
        }
        if bundle is not None:
            body["signature"] = bundle
        return wire.version_from(self._send("POST", f"/groups/{_q(group)}/versions", body))

    def _precheck(self, group: str) -> None:
        """Refuse an unknown group before uploading anything. A group seen in the last few
        seconds is not asked about again (the server checks once more when registering)."""
        seen = self._groups_seen.get(group)
        if seen is not None and time.monotonic() - seen < GROUP_SEEN_TTL_S:
            return
        self.get_group(group)
        self._groups_seen[group] = time.monotonic()

    def get_version(self, ref: str | Reference) -> Version:
        return wire.version_from(self._get(self._version_path(ref)))

    @paged
    def list_versions(
        self, group: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Version]:
        data = self._get(f"/groups/{_q(group)}/versions", limit=limit, cursor=cursor)
        return wire.page_from(data, wire.version_from)

    def update_description(self, ref: str, description: str) -> Version:
        body = {"description": description}
        return wire.version_from(self._send("PATCH", self._version_path(ref), body))

    def update_model_card(self, ref: str, model_card: str) -> Version:
        body = {"model_card": model_card}
        return wire.version_from(self._send("PATCH", self._version_path(ref), body))

    def tag_version(self, ref: str, tags: Mapping[str, str]) -> Version:
        body = {"set": dict(tags)}
        return wire.version_from(self._send("POST", self._version_path(ref) + "/tags", body))

    def untag_version(self, ref: str, keys: Iterable[str]) -> Version:
        body = {"remove": list(keys)}
        return wire.version_from(self._send("POST", self._version_path(ref) + "/tags", body))

    def set_metadata(
        self, ref: str, metadata: Mapping[str, str], *, remove: Iterable[str] = ()
    ) -> Version:
        body = {"set": dict(metadata), "remove": list(remove)}
        path = self._version_path(ref) + "/metadata"
        return wire.version_from(self._send("POST", path, body))

    def remove_metadata(self, ref: str, keys: Iterable[str]) -> Version:
        return self.set_metadata(ref, {}, remove=keys)

    def approve_version(
        self, ref: str, *, comment: str = "", break_glass: str | None = None
    ) -> Version:
        body = {"comment": comment, "break_glass": break_glass}
        path = self._version_path(ref) + "/approve"
        return wire.version_from(self._send("POST", path, body))

    def reject_version(self, ref: str, *, comment: str) -> Version:
        path = self._version_path(ref) + "/reject"
        return wire.version_from(self._send("POST", path, {"comment": comment}))

    def approval_history(self, ref: str) -> list[ApprovalDecision]:
        data = self._get(self._version_path(ref) + "/approvals")
        return [wire.decision_from(d) for d in data]

    # -- aliases ----------------------------------------------------------------------

    def set_alias(self, group: str, alias: str, version: int | str, *, reason: str = "") -> Version:
        path = f"/groups/{_q(group)}/aliases/{_q(alias)}"
        body = {"version": version, "reason": reason}
        return wire.version_from(self._send("PUT", path, body))

    def delete_alias(self, group: str, alias: str, *, reason: str = "") -> None:
        self._send("DELETE", f"/groups/{_q(group)}/aliases/{_q(alias)}", reason=reason)

    @paged
    def alias_history(
        self, group: str, alias: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[AliasMove]:
        path = f"/groups/{_q(group)}/aliases/{_q(alias)}/history"
        return wire.page_from(self._get(path, limit=limit, cursor=cursor), wire.alias_move_from)

    def list_aliases(self, group: str) -> dict[str, int]:
        return dict(self._get(f"/groups/{_q(group)}/aliases"))

    # -- discovery --------------------------------------------------------------------

    @paged
    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Version]:
        data = self._get("/versions", filter=filter, order_by=order_by, limit=limit, cursor=cursor)
        return wire.page_from(data, wire.version_from)

    def lineage(
        self,
        ref: str,
        *,
        direction: Literal["upstream", "downstream"] = "upstream",
        depth: int = 10,
    ) -> list[LineageNode]:
        data = self._get(self._version_path(ref) + "/lineage", direction=direction, depth=depth)
        return [wire.lineage_node_from(n) for n in data]

    # -- scans ------------------------------------------------------------------------

    def version_scan(self, ref: str | Reference) -> VersionScan:
        return VersionScan.from_dict(self._get(self._version_path(ref) + "/scan"))

    def scan_version(
        self, ref: str | Reference, *, wait: bool = True, timeout: float = 600.0
    ) -> VersionScan:
        """The server queues the scan and its workers do it; with ``wait`` this polls for
        the result (at most ``timeout`` seconds, then returns the unfinished scan)."""
        deadline = time.monotonic() + check_timeout(timeout) if wait else 0.0
        scan = VersionScan.from_dict(self._send("POST", self._version_path(ref) + "/scan"))
        pause = SCAN_POLL_FIRST_S
        while wait and not scan.is_done and time.monotonic() < deadline:
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, SCAN_POLL_MAX_S)
            latest = self.version_scan(ref)
            # one open scan per version: a newer one means ours is done (and superseded)
            scan = latest if latest.id >= scan.id else scan
        return scan

    def list_events(
        self, *, type: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return list(self._get("/events", type=type, group=group, limit=limit))

    def summary(self) -> dict[str, int]:
        return dict(self._get("/summary"))

    # -- environments and deployments -------------------------------------------------

    def deploy(self, ref: str, *, to: str, reason: str = "") -> dict[str, Any]:
        body = {"reference": str(ref), "to": to, "reason": reason}
        return dict(self._send("POST", "/deployments", body))

    def rollback(self, group: str, *, env: str, reason: str = "") -> dict[str, Any]:
        path = f"/groups/{_q(group)}/environments/{_q(env)}/rollback"
        return dict(self._send("POST", path, {"reason": reason}))

    def environment_history(
        self, group: str, env: str, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        path = f"/groups/{_q(group)}/environments/{_q(env)}/deployments"
        return list(self._get(path, limit=limit))

    def environment_at(self, group: str, env: str, *, time: str | datetime) -> dict[str, Any]:
        path = f"/groups/{_q(group)}/environments/{_q(env)}/at"
        return dict(self._get(path, time=_when(time)))

    # -- release policies -------------------------------------------------------------

    def get_policy(self, group: str, target: str) -> ReleasePolicy:
        path = f"/groups/{_q(group)}/policies/{_q(target)}"
        return ReleasePolicy.from_dict(self._get(path))

    def list_policies(self, group: str) -> list[ReleasePolicy]:
        data = self._get(f"/groups/{_q(group)}/policies")
        return [ReleasePolicy.from_dict(p) for p in data]

    def set_policy(self, group: str, target: str, clauses: list[str]) -> ReleasePolicy:
        if isinstance(clauses, str) or not isinstance(clauses, list):
            raise ValidationError("clauses: must be a list of policy clauses", field="clauses")
        path = f"/groups/{_q(group)}/policies/{_q(target)}"
        return ReleasePolicy.from_dict(self._send("PUT", path, {"clauses": clauses}))

    def reset_policy(self, group: str, target: str) -> ReleasePolicy:
        path = f"/groups/{_q(group)}/policies/{_q(target)}"
        return ReleasePolicy.from_dict(self._send("DELETE", path))

    def check_policy(self, ref: str, target: str) -> list[str]:
        path = self._version_path(ref) + f"/policy/{_q(target)}"
        return list(self._get(path)["violations"])

    # -- pipelines, runs, approval requests ------------------------------------------

    def apply_pipeline(self, source: str) -> dict[str, Any]:
        return dict(self._send("POST", "/pipelines", {"source": source}))

    def list_pipelines(self) -> list[dict[str, Any]]:
        return list(self._get("/pipelines"))

    def get_pipeline(self, name: str, *, revision: int | None = None) -> dict[str, Any]:
        return dict(self._get(f"/pipelines/{_q(name)}", revision=revision))

    def diff_pipeline(
        self, name: str, *, from_revision: int, to_revision: int | None = None
    ) -> str:
        found = self._get(
            f"/pipelines/{_q(name)}/diff", from_revision=from_revision, to_revision=to_revision
        )
        return str(found["diff"])

    def start_run(self, pipeline: str, ref: str) -> dict[str, Any]:
        return dict(self._send("POST", f"/pipelines/{_q(pipeline)}/runs", {"reference": str(ref)}))

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        group: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        return list(self._get("/runs", pipeline=pipeline, group=group, status=status, limit=limit))

    def get_run(self, run_id: int) -> dict[str, Any]:
        return dict(self._get(f"/runs/{_q(str(run_id))}"))

    def run_logs(self, run_id: int, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return list(self._get(f"/runs/{_q(str(run_id))}/logs", after=after, limit=limit))

    def cancel_run(self, run_id: int, *, reason: str = "") -> dict[str, Any]:
        return dict(self._send("POST", f"/runs/{_q(str(run_id))}/cancel", {"reason": reason}))

    def retry_run(self, run_id: int, *, from_stage: str | None = None) -> dict[str, Any]:
        return dict(
            self._send("POST", f"/runs/{_q(str(run_id))}/retry", {"from_stage": from_stage})
        )

    def list_approvals(
        self, *, mine: bool = False, status: str | None = "pending", limit: int = 100
    ) -> list[dict[str, Any]]:
        return list(
            self._get(
                "/approvals", mine=mine, status="any" if status is None else status, limit=limit
            )
        )

    def approve_request(self, request_id: int, *, comment: str = "") -> dict[str, Any]:
        path = f"/approvals/{_q(str(request_id))}/approve"
        return dict(self._send("POST", path, {"comment": comment}))

    def reject_request(self, request_id: int, *, comment: str) -> dict[str, Any]:
        path = f"/approvals/{_q(str(request_id))}/reject"
        return dict(self._send("POST", path, {"comment": comment}))

    # -- event rules and deliveries ---------------------------------------------------

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
        body = {
            "name": name,
            "pattern": pattern,
            "targets": list(targets),
            "format": format,
            "transform": transform,
            "description": description,
            "enabled": enabled,
        }
        return dict(self._send("POST", "/rules", body))

    def list_rules(self) -> list[dict[str, Any]]:
        return list(self._get("/rules"))

    def get_rule(self, name: str) -> dict[str, Any]:
        return dict(self._get(f"/rules/{_q(name)}"))

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
        given = {
            "pattern": pattern,
            "targets": None if targets is None else list(targets),
            "format": format,
            "transform": transform,
            "description": description,
        }
        body = {k: v for k, v in given.items() if v is not None}
        return dict(self._send("PATCH", f"/rules/{_q(name)}", body))

    def enable_rule(self, name: str) -> dict[str, Any]:
        return dict(self._send("POST", f"/rules/{_q(name)}/enable"))

    def disable_rule(self, name: str) -> dict[str, Any]:
        return dict(self._send("POST", f"/rules/{_q(name)}/disable"))

    def delete_rule(self, name: str) -> None:
        self._send("DELETE", f"/rules/{_q(name)}")

    def test_rule(self, name: str, event: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._send("POST", f"/rules/{_q(name)}/test", {"event": event}))

    def replay_events(
        self, rule: str, *, since: str | datetime, until: str | datetime | None = None
    ) -> int:
        body = {"since": _when(since), "until": None if until is None else _when(until)}
        return int(self._send("POST", f"/rules/{_q(rule)}/replay", body)["deliveries"])

    def get_event(self, event_id: str) -> dict[str, Any]:
        return dict(self._get(f"/events/{_q(event_id)}"))

    def list_deliveries(
        self, *, status: str | None = None, rule: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return list(self._get("/deliveries", status=status, rule=rule, limit=limit))

    def redrive_deliveries(
        self, ids: Sequence[int] | None = None, *, rule: str | None = None, all_dead: bool = False
    ) -> int:
        body = {"ids": None if ids is None else list(ids), "rule": rule, "all_dead": all_dead}
        return int(self._send("POST", "/deliveries/redrive", body)["redriven"])

    def ping(self) -> None:
        self._t.call("GET", "/readyz")

    # -- artifacts --------------------------------------------------------------------

    def download(
        self,
        ref: str,
        destination: str | Path,
        *,
        overwrite: bool = False,
        progress: Progress = SILENT,
    ) -> Version:
        version = self._signed_version(ref)
        return download_version(
            self._blobs, version, destination, overwrite=overwrite, progress=progress
        )

    def fetch(self, ref: str, *, progress: Progress = SILENT) -> Path:
        version = self._signed_version(ref)
        return fetch_version(self._blobs, version, self._cache_dir, progress=progress)

    def verify_directory(self, ref: str, directory: str | Path) -> list[str]:
        return verify_version_directory(self._signed_version(ref), directory)

    def _signed_version(self, ref: str) -> Version:
        """The version, once its manifest is checked here against the registry's signature
        (with the server's public key, fetched once per client)."""
        version = self.get_version(ref)
        signatures = self.version_signatures(version.reference)
        bundle = next((s.bundle for s in signatures if s.kind == REGISTRY), None)
        if self._registry_key is None:
            self._registry_key = load_registry_key(self.signing_public_key())
        check_registry_signature(version, bundle, self._registry_key)
        return version

    # -- signatures -------------------------------------------------------------------

    def signing_public_key(self) -> str:
        return str(self._get("/signing/public-key"))

    def version_signatures(self, ref: str) -> list[VersionSignature]:
        data = self._get(self._version_path(ref) + "/signatures")
        return [VersionSignature.from_dict(s) for s in data]

    def sign_version(
        self,
        ref: str,
        *,
        signature: SignatureInput | None = None,
        sign_with: str | Path | None = None,
    ) -> VersionSignature:
        """Attach a model-signing signature; with ``sign_with`` the version's files are
        fetched (verified) and signed here, the key never leaving this machine."""
        if (signature is None) == (sign_with is None):
            raise ValidationError(
                "signature: give a model-signing signature or a key to sign with (one of them)",
                field="signature",
            )
        reference = self.get_version(ref).reference
        if signature is None:
            assert sign_with is not None
            check_private_key(sign_with)
            signature = sign_directory(self.fetch(reference), sign_with, ignore=[COMPLETE_MARKER])
        body = {"bundle": read_signature(signature)}
        data = self._send("POST", self._version_path(reference) + "/signatures", body)
        return VersionSignature.from_dict(data)

    def add_trusted_key(self, group: str, name: str, public_key: str) -> TrustedKey:
        body = {"name": name, "public_key": public_key}
        return TrustedKey.from_dict(self._send("POST", f"/groups/{_q(group)}/trusted-keys", body))

    def list_trusted_keys(self, group: str) -> list[TrustedKey]:
        return [TrustedKey.from_dict(k) for k in self._get(f"/groups/{_q(group)}/trusted-keys")]

    def remove_trusted_key(self, group: str, name: str) -> TrustedKey:
        path = f"/groups/{_q(group)}/trusted-keys/{_q(name)}"
        return TrustedKey.from_dict(self._send("DELETE", path))

    # -- blobs ------------------------------------------------------------------------

    def check_blob_write(self) -> None:
        self._send("POST", "/blobs/missing", {"digests": []})

    def missing_blobs(self, digests: Iterable[str]) -> set[str]:
        return self._blobs.missing(digests)

    def put_blob(self, stream: Readable, *, sha256: str) -> StoredBlob:
        return self._blobs.put(stream, expected_sha256=sha256)

    def blob_size(self, sha256: str) -> int:
        return self._blobs.size(sha256)

    def read_blob(self, sha256: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self._blobs.read(sha256, start=start, end=end)

    # -- access -----------------------------------------------------------------------

    def whoami(self) -> dict[str, object]:
        return dict(self._get("/whoami"))

    def create_principal(self, name: str, *, service: bool = False) -> Principal:
        body = {"name": name, "service": service}
        return wire.principal_from(self._send("POST", "/principals", body))

    @paged
    def list_principals(self, *, limit: int = 100, cursor: str | None = None) -> Page[Principal]:
        data = self._get("/principals", limit=limit, cursor=cursor)
        return wire.page_from(data, wire.principal_from)

    def create_token(
        self, principal: str, *, expires: str | None = "90d", description: str = ""
    ) -> IssuedToken:
        body = {"principal": principal, "expires": expires, "description": description}
        return wire.issued_token_from(self._send("POST", "/tokens", body))

    @paged
    def list_tokens(
        self, *, principal: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page[ApiToken]:
        data = self._get("/tokens", principal=principal, limit=limit, cursor=cursor)
        return wire.page_from(data, wire.token_from)

    def revoke_token(self, token_id: str) -> ApiToken:
        return wire.token_from(self._send("DELETE", f"/tokens/{_q(token_id)}"))

    def grant(self, principal: str, role: str, *, groups: str = "*") -> Binding:
        body = {"principal": principal, "role": role, "groups": groups}
        return wire.binding_from(self._send("POST", "/bindings", body))

    def revoke(self, principal: str, role: str, *, groups: str = "*") -> None:
        self._send("DELETE", "/bindings", principal=principal, role=role, groups=groups)

    def list_bindings(self, *, principal: str | None = None) -> list[Binding]:
        return [wire.binding_from(b) for b in self._get("/bindings", principal=principal)]

    def check_access(self, principal: str, action: str, target: str) -> Decision:
        data = self._get("/access/check", principal=principal, action=action, target=target)
        return wire.access_decision_from(data)

    # -- audit ------------------------------------------------------------------------

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
        moment = since.isoformat() if isinstance(since, datetime) else since
        data = self._get(
            "/audit",
            group=group,
            resource=resource,
            actor=actor,
            since=moment,
            outcome=outcome,
            limit=limit,
        )
        return [AuditEntry.from_dict(e) for e in data]

    def audit_public_key(self) -> str:
        return str(self._get("/audit/public-key"))

    def checkpoint_audit(self) -> Checkpoint:
        return Checkpoint.from_dict(self._send("POST", "/audit/checkpoints"))

    def list_checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint.from_dict(c) for c in self._get("/audit/checkpoints")]

    def verify_audit(self) -> VerifyReport:
        return wire.verify_report_from(self._get("/audit/verify"))

    def audit_proof(self, seq: int) -> dict[str, Any]:
        return dict(self._get(f"/audit/entries/{int(seq)}/proof"))

    def audit_consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        return dict(self._get("/audit/consistency", old_size=old_size, new_size=new_size))

    def iter_audit_export(self) -> Iterator[str]:
        return self._t.stream_lines(API + "/audit/export")

    def export_audit(self, destination: str | Path) -> int:
        entries = 0

        def counted() -> Iterator[str]:
            nonlocal entries
            for line in self.iter_audit_export():
                entries += line.startswith('{"entry"')
                yield line

        write_lines(Path(destination), counted())  # an unwritable path: exit 2, named
        return entries
