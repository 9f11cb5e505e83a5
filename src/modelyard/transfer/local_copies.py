"""A version's files as a local directory: download, cached fetch, verify.

Shared by the local registry (blobs from the store) and the HTTP client (blobs over HTTP):
both hand in a :class:`BlobStore` and the version, and get the same verified result.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from modelyard.domain.manifest import path_order_key
from modelyard.domain.model import Version
from modelyard.domain.references import parse_reference
from modelyard.domain.signatures import check_registry_bundle, pinning_problems
from modelyard.domain.signing_keys import load_registry_key
from modelyard.errors import ConflictError, IntegrityError, ValidationError
from modelyard.transfer.blobs import BlobStore
from modelyard.transfer.destinations import (
    create_temp_directory,
    destination_error,
    writing,
)
from modelyard.transfer.files import (
    SILENT,
    Progress,
    download_manifest,
    hash_file,
    scan_directory,
)

COMPLETE_MARKER = ".modelyard-complete"


def download_version(
    blobs: BlobStore,
    version: Version,
    destination: str | Path,
    *,
    overwrite: bool = False,
    progress: Progress = SILENT,
) -> Version:
    """Write a version's files into ``destination``, verifying every file's sha256."""
    target = Path(destination)
    if target.exists() and not target.is_dir():
        raise ValidationError(
            f"destination: {str(target)!r} is not a directory", field="destination"
        )
    with writing(target):
        occupied = target.is_dir() and any(target.iterdir())
    if occupied and not overwrite:
        raise ConflictError(
            f"destination: {str(target)!r} is not empty (pass overwrite to replace files in it)",
            field="destination",
        )
    with writing(target):
        target.mkdir(parents=True, exist_ok=True)
    download_manifest(
        blobs, version.manifest, target, reference=version.reference, progress=progress
    )
    return version


def fetch_version(
    blobs: BlobStore, version: Version, cache_dir: Path, *, progress: Progress = SILENT
) -> Path:
    """A cached local directory with the version's files (keyed by the manifest listing)."""
    final = cache_dir / version.manifest.listing_digest.removeprefix("sha256:")
    if (final / COMPLETE_MARKER).is_file():
        return final
    with writing(cache_dir, field="cache_dir"):
        cache_dir.mkdir(parents=True, exist_ok=True)
        # not mkdtemp (0700): the copy's directories and files follow the umask
        staging = create_temp_directory(cache_dir, prefix=".fetch-")
    try:
        download_manifest(
            blobs, version.manifest, staging, reference=version.reference, progress=progress
        )
        with writing(cache_dir, field="cache_dir"):
            (staging / COMPLETE_MARKER).write_text(version.manifest_digest + "\n")
        try:
            os.rename(staging, final)
        except OSError as e:
            if not (final / COMPLETE_MARKER).is_file():  # not a concurrent fetch that won
                raise destination_error(e, final, field="cache_dir") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def verify_version_directory(version: Version, directory: str | Path) -> list[str]:
    """Compare a directory with a version's manifest; returns the problems (empty: same)."""
    expected = {f.path: (f.sha256, f.size) for f in version.manifest.files}
    return compare_directory(expected, directory, version.reference)


def compare_directory(
    expected: Mapping[str, tuple[str, int | None]], directory: str | Path, reference: str
) -> list[str]:
    """Compare a directory with ``path → (sha256, size or None)``: one problem per missing,
    changed or extra file (empty: exactly those files with those contents)."""
    local = {f.path: f for f in scan_directory(Path(directory)) if f.path != COMPLETE_MARKER}
    problems = []
    for path, (sha256, size) in sorted(expected.items(), key=lambda item: path_order_key(item[0])):
        found = local.pop(path, None)
        if found is None:
            problems.append(f"{path}: missing")
        elif (size is not None and found.size != size) or hash_file(found.source) != sha256:
            problems.append(f"{path}: content differs from the registered sha256")
    problems.extend(f"{path}: not part of {reference}" for path in sorted(local))
    return problems


def check_registry_signature(
    version: Version, bundle: dict[str, Any] | None, public_key: Ed25519PublicKey
) -> None:
    """Raise :class:`IntegrityError` unless the registry's signature (made with
    ``public_key``) pins exactly the version's manifest: every path, digest and size."""
    if bundle is None:
        raise IntegrityError(
            f"{version.reference} has no registry signature, so its manifest cannot be "
            "verified (versions registered before manifests were signed have none)"
        )
    signed = check_registry_bundle(bundle, public_key, reference=version.reference)
    problems = pinning_problems(signed, version.manifest, version.reference)
    if problems:
        raise IntegrityError(
            f"{version.reference}: the manifest does not match the registry's signature: "
            + "; ".join(problems)
        )


def verify_signed_directory(
    reference: str, directory: str | Path, *, signature: dict[str, Any], public_key: str | bytes
) -> list[str]:
    """Offline: check ``signature`` (a registry signature bundle) with the registry's
    ``public_key`` (PEM) and compare ``directory`` with the files it signs; returns the
    problems (empty: the directory is exactly the signed version). Never contacts a server."""
    parsed = parse_reference(reference)
    if parsed.number is None:
        raise ValidationError(
            f"reference: {reference!r} is an alias; offline verification needs the version "
            "number the signature names (GROUP/N)",
            field="reference",
        )
    key = load_registry_key(public_key)
    signed = check_registry_bundle(signature, key, reference=str(parsed))
    expected = {path: (sha, signed.sizes.get(path)) for path, sha in signed.files.items()}
    return compare_directory(expected, directory, str(parsed))
