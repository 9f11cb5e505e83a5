"""Validation and parsing of lineage: datasets, code, parents, environment."""

from __future__ import annotations

from collections.abc import Iterable

from modelyard.domain.manifest import DIGEST_PREFIX, validate_sha256
from modelyard.domain.model import Dataset, Lineage
from modelyard.domain.names import validate_key
from modelyard.domain.references import parse_reference
from modelyard.errors import ValidationError

DATASET_RULE = "ROLE=URI or ROLE=URI@sha256:HEX, e.g. train=s3://bucket/train.parquet@sha256:ab12…"
MAX_TEXT = 2048


def parse_dataset(text: str, *, field: str = "datasets") -> Dataset:
    """Parse ``role=uri[@sha256:hex]`` as typed on the command line."""
    role, sep, rest = text.partition("=")
    if not sep or not rest:
        raise ValidationError(f"{field}: {text!r} is not of the form {DATASET_RULE}", field=field)
    uri, at, digest = rest.rpartition("@" + DIGEST_PREFIX)
    if not at:
        return Dataset(role=role, uri=rest)
    return Dataset(role=role, uri=uri, digest=DIGEST_PREFIX + digest)


def validate_lineage(lineage: Lineage) -> Lineage:
    """Check every lineage field; returns a normalised copy."""
    roles: set[str] = set()
    datasets = []
    for index, dataset in enumerate(lineage.datasets):
        field = f"lineage.datasets[{index}]"
        validate_key(dataset.role, field=f"{field}.role")
        if dataset.role in roles:
            raise ValidationError(
                f"{field}.role: dataset role {dataset.role!r} is given more than once",
                field=f"{field}.role",
            )
        roles.add(dataset.role)
        _text(dataset.uri, field=f"{field}.uri", required=True)
        digest = None
        if dataset.digest is not None:
            digest = DIGEST_PREFIX + validate_sha256(dataset.digest, field=f"{field}.digest")
        datasets.append(Dataset(dataset.role, dataset.uri, digest))
    parents = _parents(lineage.parents)
    for name in ("code_repo", "code_commit", "python_version", "container_image"):
        _text(getattr(lineage, name), field=f"lineage.{name}")
    _image(lineage.container_image)
    for index, package in enumerate(lineage.packages):
        _text(package, field=f"lineage.packages[{index}]", required=True)
    return Lineage(
        datasets=tuple(datasets),
        code_repo=lineage.code_repo,
        code_commit=lineage.code_commit,
        parents=parents,
        python_version=lineage.python_version,
        packages=tuple(lineage.packages),
        container_image=lineage.container_image,
    )


def _parents(parents: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for index, text in enumerate(parents):
        ref = parse_reference(text, field=f"lineage.parents[{index}]")
        if ref.number is None:
            raise ValidationError(
                f"lineage.parents[{index}]: {text!r} must name a version number (GROUP/N), "
                "not an alias, so lineage never changes",
                field=f"lineage.parents[{index}]",
            )
        if str(ref) not in result:
            result.append(str(ref))
    return tuple(result)


def _image(reference: str | None) -> None:
    """A container image is pinned by digest (``repo@sha256:…``): a tag can move."""
    if reference is None:
        return
    _, at, digest = reference.rpartition("@")
    if not at:
        raise ValidationError(
            f"lineage.container_image: {reference!r} must be pinned by digest, "
            "e.g. registry.example/train@sha256:…",
            field="lineage.container_image",
        )
    validate_sha256(digest, field="lineage.container_image")


def _text(value: object, *, field: str, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field}: must be a non-empty string", field=field)
    if len(value) > MAX_TEXT:
        raise ValidationError(f"{field}: longer than {MAX_TEXT} characters", field=field)


def versions_from(parents: Iterable[str]) -> Iterable[tuple[str, int]]:
    """(group, number) pairs of already-validated parent references."""
    for text in parents:
        ref = parse_reference(text)
        assert ref.number is not None
        yield ref.group, ref.number
