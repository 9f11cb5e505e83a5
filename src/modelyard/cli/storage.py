"""Operating the blob store where it lives: `blobs verify|gc|encrypt`, `keys rotate`."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import click

from modelyard.cli.errors import FAILURE
from modelyard.cli.output import console, json_option, print_json, print_pairs, print_table
from modelyard.cli.state import State, pass_state
from modelyard.domain.targets import parse_duration
from modelyard.errors import ConfigError

if TYPE_CHECKING:
    from modelyard.registry import Registry


def _local(state: State, command: str) -> Registry:
    if state.remote:
        raise ConfigError(
            f"url: {command} runs where the stores are (--home, or --db-url and --blobs-url), "
            "not through a server; unset --url",
            field="url",
        )
    return state.local_registry()


@click.group("blobs")
def blobs() -> None:
    """Verify, garbage-collect and encrypt the blob store (run where the stores are)."""


@blobs.command("verify")
@click.option(
    "--digest",
    "digests",
    multiple=True,
    metavar="SHA256",
    help="Only these blobs (repeatable); default: every stored blob.",
)
@json_option
@pass_state
def verify(state: State, digests: tuple[str, ...], as_json: bool) -> None:
    """Re-read every stored blob (decrypting it if encrypted) and re-hash it; exit 1 and
    name each blob whose bytes no longer match its digest."""
    report = _local(state, "blobs verify").verify_blobs(list(digests) if digests else None)
    if as_json:
        print_json({"checked": report.checked, "problems": report.problems})
    else:
        for problem in report.problems.values():
            console.print(f"[red]corrupt[/] {problem}", highlight=False)
        console.print(f"checked {report.checked} blob(s), {len(report.problems)} corrupt")
    if report.problems:
        raise click.exceptions.Exit(FAILURE)


def _grace(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    if value.strip() in {"0", "0s"}:
        return timedelta(0)
    try:
        return parse_duration(value, field="grace")
    except ValueError as e:
        raise click.BadParameter(str(e).removeprefix("grace: ")) from None


@blobs.command("gc")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    callback=_grace,
    help="Spare blobs stored or claimed by an upload more recently than this (90s, 12h, 7d).",
)
@json_option
@pass_state
def gc(state: State, dry_run: bool, grace: timedelta, as_json: bool) -> None:
    """Delete blobs that no version references.

    Never deleted: a blob any version references, or one stored or claimed by an upload
    in flight within the grace period. A registration racing the collection is either
    seen (its blobs are spared) or refused with a retryable conflict. On S3 it also aborts
    multipart uploads left unfinished for longer than the grace period. Audited as
    blobs.gc.
    """
    report = _local(state, "blobs gc").collect_garbage(dry_run=dry_run, grace=grace)
    if as_json:
        print_json(
            {
                "dry_run": report.dry_run,
                "examined": report.examined,
                "referenced": report.referenced,
                "spared": report.spared,
                "collected": report.collected,
                "collected_bytes": report.collected_bytes,
                "refused": report.refused,
                "abandoned_uploads": report.abandoned_uploads,
            }
        )
        return
    if report.collected:
        verb = "would delete" if dry_run else "deleted"
        print_table(["sha256", "bytes"], sorted(report.collected.items()), title=verb)
    print_pairs(
        [
            ("blobs", report.examined),
            ("referenced by versions", report.referenced),
            ("spared (grace period / upload in flight)", report.spared),
            ("would delete" if dry_run else "deleted", len(report.collected)),
            ("bytes", report.collected_bytes),
        ]
        + (
            [("unfinished S3 uploads " + ("to abort" if dry_run else "aborted"), n)]
            if (n := report.abandoned_uploads)
            else []
        )
    )


@blobs.command("encrypt")
@json_option
@pass_state
def encrypt(state: State, as_json: bool) -> None:
    """Encrypt every plaintext blob (AES-256-GCM, a data key per blob) and turn encryption
    on for new blobs. Resumable; readers keep working while it runs."""
    report = _local(state, "blobs encrypt").encrypt_blobs()
    if as_json:
        print_json({"encrypted": report.encrypted, "already_encrypted": report.already})
    else:
        console.print(
            f"encrypted {report.encrypted} blob(s); {report.already} were already encrypted"
        )


@click.group("keys")
def keys() -> None:
    """The key-encryption keys that wrap each blob's data key."""


@keys.command("rotate")
@json_option
@pass_state
def rotate(state: State, as_json: bool) -> None:
    """Re-wrap every data key with a new key-encryption key; blobs are not rewritten.

    With the key file: a new key is made current, every data key re-wrapped, and the old
    keys removed from the file. With KMS: set MODELYARD_KMS_KEY_ID to the new key first;
    data keys wrapped by any other key are re-wrapped by it. Resumable.
    """
    report = _local(state, "keys rotate").rotate_keys()
    if as_json:
        print_json(
            {
                "key": report.key,
                "rewrapped": report.rewrapped,
                "data_keys": report.total,
                "retired": report.retired,
            }
        )
        return
    console.print(
        f"re-wrapped {report.rewrapped} of {report.total} data key(s) with {report.key}",
        highlight=False,
    )
    if report.retired:
        console.print(f"removed retired key(s) {', '.join(report.retired)} from the key file")


COMMANDS = [blobs, keys]
