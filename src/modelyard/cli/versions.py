"""``modelyard version …``: register, list, show, download, search, decide, annotate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import click

from modelyard.cli.output import (
    console,
    format_map,
    human_size,
    json_option,
    print_json,
    print_pairs,
    print_table,
)
from modelyard.cli.paging import paging_options, print_page
from modelyard.cli.progress import TransferBar
from modelyard.cli.scans import latest_scan, scan_json, scan_line
from modelyard.cli.signing import verify_with_key, write_registry_signature
from modelyard.cli.state import State, pass_state
from modelyard.domain.lineage import parse_dataset
from modelyard.domain.model import Lineage, Version
from modelyard.domain.values import parse_pairs
from modelyard.errors import IntegrityError
from modelyard.transfer.environment import capture_environment


@click.group()
def version() -> None:
    """Versions: immutable registered models, numbered per group."""


@version.command("register")
@click.argument("group")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="KEY=VALUE",
    help="A metric, e.g. auc=0.91 (repeatable).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A training parameter (repeatable).",
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="ROLE=URI[@sha256:HEX]",
    help="A dataset used, e.g. train=s3://b/train.parquet@sha256:… (repeatable).",
)
@click.option("--code-repo", help="Source repository URL.")
@click.option("--code-commit", help="Source commit.")
@click.option(
    "--parent",
    "parents",
    multiple=True,
    metavar="GROUP/N",
    help="A version this one derives from (repeatable).",
)
@click.option("--framework", help="Framework and version, e.g. sklearn==1.5.2.")
@click.option("--python", "python_version", help="Python version of the training environment.")
@click.option(
    "--package",
    "packages",
    multiple=True,
    metavar="NAME==VERSION",
    help="A package of the training environment (repeatable).",
)
@click.option("--container-image", help="Training image, e.g. repo/img@sha256:….")
@click.option(
    "--capture-env",
    is_flag=True,
    help="Record this interpreter's Python version and installed packages.",
)
@click.option("--description", default="", help="What changed in this version.")
@click.option("--model-card", "model_card", type=click.File("r"), help="Markdown model card file.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@click.option(
    "--metadata",
    "metadata",
    multiple=True,
    metavar="KEY=VALUE",
    help="Custom metadata, ≤ 50 pairs (repeatable).",
)
@click.option(
    "--signature",
    "signature_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Attach this model-signing signature of DIRECTORY ('model_signing sign key').",
)
@click.option(
    "--sign-with",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="KEYFILE",
    help="Sign DIRECTORY here with this EC private key (model-signing format) and attach it.",
)
@json_option
@pass_state
def register(
    state: State,
    group: str,
    directory: Path,
    metrics: tuple[str, ...],
    params: tuple[str, ...],
    datasets: tuple[str, ...],
    code_repo: str | None,
    code_commit: str | None,
    parents: tuple[str, ...],
    framework: str | None,
    python_version: str | None,
    packages: tuple[str, ...],
    container_image: str | None,
    capture_env: bool,
    description: str,
    model_card: TextIO | None,
    tags: tuple[str, ...],
    metadata: tuple[str, ...],
    signature_file: Path | None,
    sign_with: Path | None,
    as_json: bool,
) -> None:
    """Register the files in DIRECTORY as the next version of GROUP."""
    lineage = Lineage(
        datasets=tuple(parse_dataset(d, field="dataset") for d in datasets),
        code_repo=code_repo,
        code_commit=code_commit,
        parents=parents,
        python_version=python_version,
        packages=packages,
        container_image=container_image,
    )
    if capture_env:
        lineage = capture_environment(lineage)
    with TransferBar() as bar:
        registered = state.registry.register_version(
            group,
            directory,
            progress=bar,
            metrics=dict(parse_pairs(metrics, field="metrics")),
            params=dict(parse_pairs(params, field="params")),
            lineage=lineage,
            framework=framework,
            tags=dict(parse_pairs(tags, field="tags")),
            metadata=dict(parse_pairs(metadata, field="metadata")),
            description=description,
            model_card=model_card.read() if model_card else "",
            signature=signature_file,
            sign_with=sign_with,
        )
    new_blobs, new_bytes = bar.phases.get("uploading", (0, 0))
    if as_json:
        print_json(registered.to_dict() | {"uploaded": {"blobs": new_blobs, "bytes": new_bytes}})
        return
    console.print(
        f"{registered.reference}  (manifest {registered.manifest_digest}, "
        f"{len(registered.manifest.files)} files, {human_size(registered.manifest.total_size)}, "
        f"{new_blobs} new blobs uploaded, {human_size(new_bytes)})"
    )


@version.command("list")
@click.argument("group")
@paging_options("versions")
@json_option
@pass_state
def list_(
    state: State, group: str, limit: int, cursor: str | None, all_pages: bool, as_json: bool
) -> None:
    """List the versions of GROUP, newest first."""
    page = state.registry.list_versions(group, limit=limit, cursor=cursor)
    print_page(page, all_pages=all_pages, as_json=as_json, item_json=Version.to_dict, table=_table)


def _table(items: Sequence[Version]) -> None:
    print_table(
        ["reference", "status", "aliases", "metrics", "created", "by"],
        [
            (
                v.reference,
                v.approval_status.value,
                ",".join(v.aliases),
                format_map(v.metrics),
                f"{v.created_at:%Y-%m-%d %H:%M}",
                v.created_by,
            )
            for v in items
        ],
    )


@version.command("show")
@click.argument("reference")
@json_option
@pass_state
def show(state: State, reference: str, as_json: bool) -> None:
    """Show one version: REFERENCE is GROUP/N, GROUP@ALIAS or GROUP@latest."""
    found = state.registry.get_version(reference)
    scanned = latest_scan(state, found.reference)
    if as_json:
        print_json({**found.to_dict(), "scan": scan_json(scanned)})
        return
    lineage = found.lineage
    print_pairs(
        [
            ("reference", found.reference),
            ("approval", found.approval_status.value),
            ("scan", scan_line(scanned)),
            ("aliases", ", ".join(found.aliases)),
            ("description", found.description),
            ("manifest", found.manifest_digest),
            ("files", f"{len(found.manifest.files)} ({human_size(found.manifest.total_size)})"),
            ("metrics", format_map(found.metrics)),
            ("params", format_map(found.params)),
            ("framework", found.framework),
            ("tags", format_map(found.tags)),
            ("metadata", format_map(found.metadata)),
            (
                "datasets",
                ", ".join(
                    f"{d.role}={d.uri}" + (f"@{d.digest}" if d.digest else "")
                    for d in lineage.datasets
                ),
            ),
            ("code", " @ ".join(p for p in (lineage.code_repo, lineage.code_commit) if p)),
            ("parents", ", ".join(lineage.parents)),
            ("created", f"{found.created_at:%Y-%m-%d %H:%M:%S} UTC by {found.created_by}"),
        ]
    )
    print_table(
        ["path", "size", "sha256"],
        [(f.path, human_size(f.size), f.sha256) for f in found.manifest.files],
    )


@version.command("download")
@click.argument("reference")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Write into a non-empty directory.")
@click.option(
    "--save-signature",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write the registry's signature (for an offline 'version verify') to FILE.",
)
@pass_state
def download(
    state: State, reference: str, directory: Path, overwrite: bool, save_signature: Path | None
) -> None:
    """Download a version's files into DIRECTORY, verifying the registry's signature and
    every sha256."""
    with TransferBar() as bar:
        found = state.registry.download(reference, directory, overwrite=overwrite, progress=bar)
    console.print(
        f"{found.reference}: {len(found.manifest.files)} files "
        f"({human_size(found.manifest.total_size)}) verified into {directory}"
    )
    if save_signature is not None:
        write_registry_signature(state, found.reference, save_signature, field="save_signature")


@version.command("fetch")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the reference and the path.")
@pass_state
def fetch(state: State, reference: str, as_json: bool) -> None:
    """Print a cached local directory holding REFERENCE's files (downloading once)."""
    with TransferBar() as bar:
        path = state.registry.fetch(reference, progress=bar)
    if as_json:
        print_json({"reference": reference, "path": str(path)})
        return
    click.echo(str(path))


@version.command("verify")
@click.argument("reference")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="PEMFILE",
    help="The registry's signing public key ('signing public-key'), obtained out of band.",
)
@click.option(
    "--signature",
    "signature_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Verify offline against this registry signature ('version signature'); "
    "needs --public-key.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the verdict and the problems.")
@pass_state
def verify(
    state: State,
    reference: str,
    directory: Path,
    public_key_file: Path | None,
    signature_file: Path | None,
    as_json: bool,
) -> None:
    """Check that DIRECTORY holds exactly the files registered (and signed) as REFERENCE."""
    if public_key_file is None and signature_file is None:
        checked, problems = reference, state.registry.verify_directory(reference, directory)
    else:
        checked, problems = verify_with_key(
            state,
            reference,
            directory,
            public_key_file=public_key_file,
            signature_file=signature_file,
        )
    if as_json:  # printed before the exit code says whether it matched
        print_json(
            {
                "reference": checked,
                "directory": str(directory),
                "offline": signature_file is not None,
                "ok": not problems,
                "problems": problems,
            }
        )
    if problems:
        raise IntegrityError(f"{directory} does not match {checked}: " + "; ".join(problems))
    if as_json:
        return
    how = " (offline)" if signature_file is not None else ""
    console.print(f"{directory} matches {checked}, as the registry signed it{how}", markup=False)


@version.command("search")
@click.option(
    "--filter",
    "filter_",
    help="e.g. \"metrics.auc >= 0.9 and tags.team = 'risk'\" (see docs/search.md).",
)
@click.option("--order-by", help='e.g. "metrics.auc desc" (default: newest first).')
@paging_options("versions", limit=50)
@json_option
@pass_state
def search(
    state: State,
    filter_: str | None,
    order_by: str | None,
    limit: int,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """Search versions across groups."""
    page = state.registry.search_versions(filter_, order_by=order_by, limit=limit, cursor=cursor)
    print_page(page, all_pages=all_pages, as_json=as_json, item_json=Version.to_dict, table=_table)


@version.command("approve")
@click.argument("reference")
@click.option("--comment", default="", help="Why it is approved.")
@click.option(
    "--break-glass",
    is_flag=True,
    help="Approve your own version despite separation of duties (admin only; needs --reason).",
)
@click.option("--reason", help="Why glass is broken (required with --break-glass; audited).")
@pass_state
def approve(
    state: State, reference: str, comment: str, break_glass: bool, reason: str | None
) -> None:
    """Set REFERENCE's approval status to Approved."""
    if reason is not None and not break_glass:
        raise click.UsageError("--reason is only for --break-glass: give both, or neither")
    if break_glass and reason is None:
        raise click.UsageError("--break-glass needs --reason TEXT saying why")
    found = state.registry.approve_version(
        reference, comment=comment, break_glass=reason if break_glass else None
    )
    suffix = " (break-glass, audited)" if break_glass else ""
    console.print(f"{found.reference} is {found.approval_status.value}{suffix}", markup=False)


@version.command("reject")
@click.argument("reference")
@click.option("--comment", required=True, help="Why it is rejected (required).")
@pass_state
def reject(state: State, reference: str, comment: str) -> None:
    """Set REFERENCE's approval status to Rejected."""
    found = state.registry.reject_version(reference, comment=comment)
    console.print(f"{found.reference} is {found.approval_status.value}")


@version.command("history")
@click.argument("reference")
@json_option
@pass_state
def history(state: State, reference: str, as_json: bool) -> None:
    """Every approval decision on REFERENCE, oldest first."""
    decisions = state.registry.approval_history(reference)
    if as_json:
        print_json([d.to_dict() for d in decisions])
        return
    print_table(
        ["at", "status", "previous", "by", "comment"],
        [
            (
                f"{d.decided_at:%Y-%m-%d %H:%M:%S}",
                d.status.value,
                d.previous_status.value,
                d.actor,
                d.comment,
            )
            for d in decisions
        ],
    )


@version.command("tag")
@click.argument("reference")
@click.argument("tags", nargs=-1, required=True, metavar="KEY=VALUE...")
@pass_state
def tag(state: State, reference: str, tags: tuple[str, ...]) -> None:
    """Set tags on REFERENCE."""
    found = state.registry.tag_version(reference, dict(parse_pairs(tags, field="tags")))
    console.print(f"{found.reference} tags: {format_map(found.tags)}")


@version.command("untag")
@click.argument("reference")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@pass_state
def untag(state: State, reference: str, keys: tuple[str, ...]) -> None:
    """Remove tags from REFERENCE."""
    found = state.registry.untag_version(reference, keys)
    console.print(f"{found.reference} tags: {format_map(found.tags)}")


@version.command("metadata")
@click.argument("reference")
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE...")
@click.option("--remove", "remove", multiple=True, metavar="KEY", help="Remove a key (repeatable).")
@pass_state
def metadata(state: State, reference: str, pairs: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Set (or --remove) custom metadata of REFERENCE (at most 50 pairs in all)."""
    found = state.registry.set_metadata(
        reference, dict(parse_pairs(pairs, field="metadata")), remove=remove
    )
    console.print(f"{found.reference} metadata: {format_map(found.metadata)}")


@version.command("update-description")
@click.argument("reference")
@click.argument("text")
@pass_state
def update_description(state: State, reference: str, text: str) -> None:
    """Replace REFERENCE's description."""
    found = state.registry.update_description(reference, text)
    console.print(f"{found.reference} description updated")


@version.command("model-card")
@click.argument("reference")
@click.argument("file", type=click.File("r"))
@pass_state
def model_card(state: State, reference: str, file: TextIO) -> None:
    """Replace REFERENCE's model card with the markdown in FILE ('-' for stdin)."""
    found = state.registry.update_model_card(reference, file.read())
    console.print(f"{found.reference} model card updated")
