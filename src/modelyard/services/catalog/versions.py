"""Use cases for versions: register (immutable), read, list, and the few mutable fields."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from modelyard.domain.access import ANY_GROUP, Action
from modelyard.domain.approval import ApprovalStatus, check_decision
from modelyard.domain.lineage import versions_from
from modelyard.domain.manifest import Manifest
from modelyard.domain.model import ApprovalDecision, Lineage, Version
from modelyard.domain.names import validate_group_name, validate_key
from modelyard.domain.paging import Page, check_limit, paged
from modelyard.domain.policies import APPROVAL
from modelyard.domain.references import Reference
from modelyard.domain.scans import REGISTRATION
from modelyard.domain.times import iso_z
from modelyard.domain.values import (
    MAX_DESCRIPTION_LENGTH,
    MAX_MODEL_CARD_LENGTH,
    validate_metadata,
    validate_tags,
    validate_text,
)
from modelyard.domain.version_spec import sorted_by_key, validate_version_spec
from modelyard.errors import NotFoundError, ValidationError
from modelyard.services.base import AccessDenied, ServiceBase
from modelyard.services.release.policies import enforce_policy
from modelyard.services.security.signatures import (
    attach_model_signature,
    sign_registration,
    signed_event_data,
    trusted_keys_of_group,
)
from modelyard.store.sql import blob_gc
from modelyard.store.sql import groups as group_store
from modelyard.store.sql import scans as scan_store
from modelyard.store.sql import versions as store
from modelyard.transfer.files import SILENT, Progress, UploadResult, upload_directory
from modelyard.transfer.signatures import SignatureInput, registration_signature, signer_of

MAX_COMMENT_LENGTH = 4096
OPEN_GROUP_TTL_S = 5.0


class VersionService(ServiceBase):
    def upload_artifact(
        self, directory: str | Path, *, progress: Progress = SILENT
    ) -> UploadResult:
        """Store a directory's files (only those not stored yet); returns the manifest."""
        with self._read() as conn:
            self._authorize(conn, Action.BLOB_WRITE, ANY_GROUP, "blobs")
        return self._claimed(upload_directory(self._ctx.blobs, Path(directory), progress))

    def _claimed(self, upload: UploadResult) -> UploadResult:
        """Mark an upload's blobs in flight, so garbage collection spares them."""
        with self._write() as conn:
            blob_gc.claim(conn, upload.manifest.blob_digests(), self._ctx.clock())
        return upload

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
        """Register a new immutable version of ``group`` from a directory (or an upload).

        Everything is validated before any byte is uploaded; the version becomes visible
        only after all its blobs are stored and verified. The registry signs its manifest;
        a model-signing ``signature`` (or one made here with the EC key ``sign_with``) is
        attached in the same transaction, and only if a key the group trusts made it.
        """
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
        if isinstance(artifact, UploadResult):
            bundle = registration_signature(artifact, signature=signature, sign_with=sign_with)
            return self._insert(group, artifact.manifest, spec, bundle)
        self._precheck(group, spec["lineage"])
        bundle = registration_signature(artifact, signature=signature, sign_with=sign_with)
        if bundle is not None:  # an untrusted signer is refused before anything is uploaded
            with self._read() as conn:
                signer_of(bundle, trusted_keys_of_group(conn, group), group=group)
        # no claim: the registration follows at once, and its guard refuses (retryably) a
        # blob that garbage collection condemned in between
        upload = upload_directory(self._ctx.blobs, Path(artifact), progress)
        return self._insert(group, upload.manifest, spec, bundle)

    def _insert(
        self,
        group: str,
        manifest: Manifest,
        spec: dict[str, Any],
        signature: dict[str, Any] | None = None,
    ) -> Version:
        missing = self._ctx.blobs.missing(manifest.blob_digests())
        if missing:
            raise ValidationError(
                f"manifest: {len(missing)} blob(s) are not uploaded, e.g. sha256:{min(missing)}",
                field="manifest",
            )
        now = self._ctx.clock()
        signing_key = self._ctx.keys.manifest
        with self._write() as conn:
            self._authorize(conn, Action.VERSION_CREATE, group)
            blob_gc.guard_references(conn, manifest.blob_digests())
            group_id, number = group_store.allocate_version_number(conn, group)
            parent_ids = self._parent_ids(conn, spec["lineage"])
            version_id = store.insert_version(
                conn,
                group_id=group_id,
                number=number,
                manifest=manifest,
                parent_ids=parent_ids,
                actor=self.actor,
                now=now,
                **spec,
            )
            # Built in memory rather than read back: a registered version is exactly its input.
            version = Version(
                group=group,
                number=number,
                manifest=manifest,
                approval_status=ApprovalStatus.PENDING,
                created_at=now,
                created_by=self.actor,
                updated_at=now,
                **spec,
            )
            sign_registration(conn, key=signing_key, version_id=version_id, version=version)
            # queued with the version, durably; the worker scans it (security/scan_queue.py)
            scan_store.enqueue_scan(
                conn, version_id=version_id, reason=REGISTRATION, actor=self.actor, now=now
            )
            self._record(
                conn,
                action="version.create",
                resource=version.reference,
                event_type="version.created",
                data=_event_data(version),
                now=now,
            )
            if signature is not None:
                self._attach_signature(conn, version_id, version, signature)
            return version

    def _attach_signature(
        self, conn: Connection, version_id: int, version: Version, bundle: dict[str, Any]
    ) -> None:
        recorded = attach_model_signature(
            conn,
            version_id=version_id,
            version=version,
            bundle=bundle,
            actor=self.actor,
            now=version.created_at,
        )
        self._record(
            conn,
            action="version.sign",
            resource=version.reference,
            event_type="version.signed",
            data=signed_event_data(version, recorded),
            now=version.created_at,
        )

    def _precheck(self, group: str, lineage: Lineage) -> None:
        """Refuse an unknown or archived group and missing parents before uploading anything.

        The write transaction checks again and decides; this check only spares uploads for
        registrations bound to fail. A group seen open in the last few seconds is not
        re-read (a registration loop would otherwise pay a transaction per version).
        """
        key = (self.actor, group)
        seen = self._ctx.caches.open_groups.get(key)
        if seen is not None and time.monotonic() - seen < OPEN_GROUP_TTL_S and not lineage.parents:
            return
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_CREATE, group)
            group_store.open_group_id(conn, group)
            self._parent_ids(conn, lineage)
        self._ctx.caches.open_groups[key] = time.monotonic()

    def _parent_ids(self, conn: Connection, lineage: Lineage) -> list[int]:
        pairs = list(versions_from(lineage.parents))
        if not pairs:
            return []
        found = store.group_version_ids(conn, pairs)
        for index, pair in enumerate(pairs):
            if pair not in found:
                raise NotFoundError(
                    f"lineage.parents[{index}]: version {pair[0]}/{pair[1]} does not exist",
                    field=f"lineage.parents[{index}]",
                )
        return [found[p] for p in pairs]

    def get_version(self, ref: str | Reference) -> Version:
        """A version by ``group/N``, ``group@alias`` or ``group@latest``."""
        return self._load_version(ref)

    @paged
    def list_versions(
        self, group: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Version]:
        """A group's versions, newest first."""
        validate_group_name(group)
        limit = check_limit(limit)
        after = _number_cursor(cursor)
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, group)
            ids = store.list_version_ids(
                conn, group_store.group_id_of(conn, group), after=after, limit=limit + 1
            )
            items = store.load_versions(conn, ids[:limit])
        more = len(ids) > limit
        return Page(items=items, next_cursor=str(items[-1].number) if more else None)

    def update_description(self, ref: str, description: str) -> Version:
        text = validate_text(description, field="description", max_length=MAX_DESCRIPTION_LENGTH)
        return self._update_field(ref, "description", text)

    def update_model_card(self, ref: str, model_card: str) -> Version:
        text = validate_text(model_card, field="model_card", max_length=MAX_MODEL_CARD_LENGTH)
        return self._update_field(ref, "model_card", text)

    def _update_field(self, ref: str, name: str, value: str) -> Version:
        parsed = self._parse(ref)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.VERSION_UPDATE, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            before = store.load_versions(conn, [version_id])[0]
            store.update_version(conn, version_id, now=now, **{name: value})
            return self._changed(conn, version_id, before=before, name=name, value=value, now=now)

    def tag_version(self, ref: str, tags: Mapping[str, str]) -> Version:
        """Set (add or overwrite) tags on a version."""
        return self._update_pairs(ref, "tags", set_pairs=tags, remove=())

    def untag_version(self, ref: str, keys: Iterable[str]) -> Version:
        return self._update_pairs(ref, "tags", set_pairs={}, remove=keys)

    def set_metadata(
        self, ref: str, metadata: Mapping[str, str], *, remove: Iterable[str] = ()
    ) -> Version:
        """Set (and remove) custom metadata pairs in one change; at most 50 in all."""
        return self._update_pairs(ref, "metadata", set_pairs=metadata, remove=remove)

    def remove_metadata(self, ref: str, keys: Iterable[str]) -> Version:
        return self._update_pairs(ref, "metadata", set_pairs={}, remove=keys)

    def _update_pairs(
        self, ref: str, kind: str, *, set_pairs: Mapping[str, str], remove: Iterable[str]
    ) -> Version:
        parsed = self._parse(ref)
        removing = [validate_key(k, field=f"{kind}.{k}") for k in remove]
        validate = validate_tags if kind == "tags" else validate_metadata
        validate(dict(set_pairs))
        if not set_pairs and not removing:
            raise ValidationError(f"{kind}: nothing to set or remove was given", field=kind)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.VERSION_UPDATE, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            before = store.load_versions(conn, [version_id])[0]
            current: dict[str, str] = dict(getattr(before, kind))
            unknown = [k for k in removing if k not in current]
            if unknown:
                raise NotFoundError(
                    f"{kind}.{unknown[0]}: {before.reference} has no such key",
                    field=f"{kind}.{unknown[0]}",
                )
            updated = {k: v for k, v in current.items() if k not in removing} | dict(set_pairs)
            store.replace_version_pairs(conn, version_id, kind, validate(updated))
            store.update_version(conn, version_id, now=now)
            return self._changed(conn, version_id, before=before, name=kind, value=updated, now=now)

    def _changed(
        self,
        conn: Connection,
        version_id: int,
        *,
        before: Version,
        name: str,
        value: object,
        now: Any,
    ) -> Version:
        # Built in memory rather than re-read: the change is exactly what was written.
        stored: Any = sorted_by_key(value) if isinstance(value, dict) else value
        after = replace(before, **{name: stored}, updated_at=now)
        data = _event_data(after) | {
            "changes": {name: value},
            "previous": {name: getattr(before, name)},
        }
        self._record(
            conn,
            action="version.update",
            resource=after.reference,
            event_type="version.tagged" if name == "tags" else "version.updated",
            data=data,
            now=now,
        )
        return after

    def approve_version(
        self, ref: str, *, comment: str = "", break_glass: str | None = None
    ) -> Version:
        """Set approval status Approved, recording who, when and why.

        Separation of duties: the version's registrant may not approve it, unless the
        group allows self-approval, or an admin breaks glass (``break_glass`` = the reason),
        which the decision, the audit entry and the event record as such.
        """
        if break_glass is not None:
            break_glass = validate_text(
                break_glass, field="break_glass", max_length=MAX_COMMENT_LENGTH
            ).strip()
            if not break_glass:
                raise ValidationError(
                    "break_glass: breaking glass needs a reason", field="break_glass"
                )
        return self._decide(ref, ApprovalStatus.APPROVED, comment, break_glass)

    def reject_version(self, ref: str, *, comment: str) -> Version:
        """Set approval status Rejected; a comment saying why is required."""
        if not isinstance(comment, str) or not comment.strip():
            raise ValidationError(
                "comment: a rejection needs a comment saying why", field="comment"
            )
        return self._decide(ref, ApprovalStatus.REJECTED, comment)

    def _decide(
        self, ref: str, status: ApprovalStatus, comment: str, break_glass: str | None = None
    ) -> Version:
        comment = validate_text(comment, field="comment", max_length=MAX_COMMENT_LENGTH)
        parsed = self._parse(ref)
        now = self._ctx.clock()
        with self._write() as conn:
            self._authorize(conn, Action.VERSION_APPROVE, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            before = store.load_versions(conn, [version_id])[0]
            check_decision(before.approval_status, status, reference=before.reference)
            if status is ApprovalStatus.APPROVED:
                break_glass = self._separation_of_duties(conn, before, break_glass)
                enforce_policy(
                    conn,
                    before,
                    APPROVAL,
                    actor=self.actor,
                    action="version.decide",
                    resource=before.reference,
                    registry_key=self._ctx.keys.manifest.public_key(),
                )
            decision = ApprovalDecision(
                reference=before.reference,
                status=status,
                previous_status=before.approval_status,
                actor=self.actor,
                comment=comment,
                decided_at=now,
                break_glass_reason=break_glass,
            )
            store.insert_decision(conn, version_id, decision)
            store.update_version(conn, version_id, now=now, approval_status=status.value)
            after = replace(before, approval_status=status, updated_at=now)
            data = _event_data(after) | {
                "comment": comment,
                "previous": {"approval_status": before.approval_status},
            }
            if break_glass is not None:
                data["break_glass"] = {"reason": break_glass}
            self._record(
                conn,
                action="version.decide",
                resource=after.reference,
                event_type="version.approval_changed",
                data=data,
                now=now,
            )
            return after

    def _separation_of_duties(
        self, conn: Connection, version: Version, break_glass: str | None
    ) -> str | None:
        """Refuse a registrant approving their own version; returns the break-glass reason
        when it was needed (``None`` when the approval was ordinary)."""
        if version.created_by != self.actor:
            return None
        if group_store.get_group(conn, version.group).allow_self_approval:
            return None
        if break_glass is None:
            raise AccessDenied(
                f"{self.actor} registered {version.reference} and may not approve it "
                "(separation of duties); another approver must, or an admin may break glass "
                "with a reason",
                principal=self.actor,
                action=Action.VERSION_APPROVE.value,
                resource=version.reference,
                reason="separation of duties: the registrant may not approve their own version",
            )
        self._authorize(conn, Action.GROUP_CONFIGURE, version.group, version.reference)
        return break_glass

    def approval_history(self, ref: str) -> list[ApprovalDecision]:
        parsed = self._parse(ref)
        with self._read() as conn:
            self._authorize(conn, Action.VERSION_READ, parsed.group, str(parsed))
            version_id = self._version_id(conn, parsed)
            reference = store.load_versions(conn, [version_id])[0].reference
            return store.load_decisions(conn, version_id, reference)


def _event_data(version: Version) -> dict[str, Any]:
    return {
        "group": version.group,
        "version": version.number,
        "reference": version.reference,
        "approval_status": version.approval_status.value,
        "manifest_digest": version.manifest_digest,
        "created_by": version.created_by,
        "created_at": iso_z(version.created_at),
    }


def _number_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise ValidationError("cursor: not a cursor this server issued", field="cursor")
    return int(cursor)
