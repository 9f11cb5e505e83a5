"""``modelyard audit …``: read, verify, checkpoint, prove and export the audit log.

``audit verify --file`` and ``audit verify-proof`` work offline: they never open a store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from modelyard.cli.output import console, json_option, print_json, print_table
from modelyard.cli.state import State, pass_state
from modelyard.domain.audit import (
    VerifyReport,
    key_id,
    load_public_key,
    verify_consistency_bundle,
    verify_export,
    verify_inclusion_bundle,
)
from modelyard.errors import IntegrityError, ValidationError
from modelyard.transfer.destinations import write_text

_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_output_option = click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
_public_key_option = click.option(
    "--public-key",
    "public_key_file",
    type=_existing_file,
    metavar="PEMFILE",
    help="The registry's audit public key (from 'audit public-key'), obtained out of band.",
)


def _say(text: str) -> None:
    console.print(text, markup=False)


@click.group("audit")
def audit() -> None:
    """The audit log: hash-chained, with signed checkpoints and offline proofs."""


@audit.command("log")
@click.option("--group", help="Only entries of this group (its versions and aliases too).")
@click.option("--resource", help="Only entries for this resource (prefix, e.g. a group name).")
@click.option("--actor", help="Only entries of this principal.")
@click.option("--since", help="Only entries since a duration ago (7d, 12h) or an ISO-8601 time.")
@click.option(
    "--outcome", type=click.Choice(["allowed", "denied"]), help="Only allowed or denied ones."
)
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
@pass_state
def audit_log(
    state: State,
    group: str | None,
    resource: str | None,
    actor: str | None,
    since: str | None,
    outcome: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Newest audit entries first."""
    entries = state.registry.audit_log(
        group=group, resource=resource, actor=actor, since=since, outcome=outcome, limit=limit
    )
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    print_table(
        ["seq", "at", "actor", "action", "resource", "outcome"],
        [
            (e.seq, f"{e.at:%Y-%m-%dT%H:%M:%S}", e.actor, e.action, e.resource, e.outcome)
            for e in entries
        ],
    )


@audit.command("verify")
@click.option(
    "--file",
    "export_file",
    type=_existing_file,
    metavar="EXPORT",
    help="Verify this 'audit export' file offline instead of the store.",
)
@_public_key_option
@json_option
@pass_state
def verify(
    state: State, export_file: Path | None, public_key_file: Path | None, as_json: bool
) -> None:
    """Recompute every entry hash, chain link and signed checkpoint; exit 1 naming the
    first bad entry."""
    trusted = _read_public_key(public_key_file) if public_key_file else None
    if export_file is not None:  # offline: no store is opened
        report = _verify_export_file(export_file, trusted)
        where = str(export_file)
    else:
        registry = state.registry
        if trusted is not None:
            own = load_public_key(registry.audit_public_key())
            if key_id(own) != key_id(trusted):
                raise IntegrityError(
                    f"the store signs with key {key_id(own)}, not the trusted key "
                    f"{key_id(trusted)} given with --public-key"
                )
        report = registry.verify_audit()
        where = "the audit log"
    if as_json:
        print_json(report.to_dict() | {"source": where})
    if not report.ok:
        raise IntegrityError(f"{where} failed verification: {report.problem}")
    if not as_json:
        _say(
            f"ok: {where} verified: {report.entries} entries, "
            f"{report.checkpoints} signed checkpoints"
        )
        if export_file is not None and trusted is None:
            _say(
                "note: checked with the public key inside the file; pass --public-key with "
                "the registry's key to prove who signed it"
            )


def _verify_export_file(path: Path, trusted: Ed25519PublicKey | None) -> VerifyReport:
    try:
        with path.open(encoding="utf-8") as lines:
            return verify_export(lines, trusted)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise IntegrityError(
            f"{path} is not a readable audit export: {type(error).__name__}: {error}"
        ) from None


def _read_public_key(path: Path) -> Ed25519PublicKey:
    try:
        return load_public_key(path.read_bytes())
    except (ValueError, TypeError) as error:
        raise ValidationError(
            f"public-key: {path} is not an Ed25519 PEM public key ({error})", field="public_key"
        ) from None


@audit.command("checkpoint")
@json_option
@pass_state
def checkpoint(state: State, as_json: bool) -> None:
    """Sign the log's current size and Merkle root (no-op when nothing was appended)."""
    signed = state.registry.checkpoint_audit()
    if as_json:
        print_json(signed.to_dict())
        return
    _say(
        f"checkpoint at size {signed.size}: root {signed.root.hex()}, "
        f"signed {signed.signed_at:%Y-%m-%d %H:%M:%S} UTC with key {signed.key_id}"
    )


def _write_bundle(bundle: dict[str, Any], output: Path | None, what: str) -> None:
    text = json.dumps(bundle, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    write_text(output, text)
    _say(f"wrote {what} to {output}")


@audit.command("proof")
@click.argument("seq", type=int, metavar="N")
@_output_option
@pass_state
def proof(state: State, seq: int, output: Path | None) -> None:
    """An inclusion proof of entry N in a signed checkpoint, as JSON (verify it with
    'audit verify-proof')."""
    bundle = state.registry.audit_proof(seq)
    size = bundle["checkpoint"]["size"]
    _write_bundle(bundle, output, f"the proof of entry {seq} in the checkpoint at size {size}")


@audit.command("consistency")
@click.argument("old_size", type=int, metavar="OLD")
@click.argument("new_size", type=int, metavar="NEW")
@_output_option
@pass_state
def consistency(state: State, old_size: int, new_size: int, output: Path | None) -> None:
    """A proof that the checkpoint at size NEW extends the one at size OLD, as JSON."""
    bundle = state.registry.audit_consistency(old_size, new_size)
    _write_bundle(bundle, output, f"the consistency proof of sizes {old_size} and {new_size}")


@audit.command("verify-proof")
@click.argument("file", type=_existing_file)
@_public_key_option
def verify_proof(file: Path, public_key_file: Path | None) -> None:
    """Check an inclusion or consistency proof FILE offline (no store needed)."""
    bundle = _read_bundle(file)
    try:
        if public_key_file is not None:
            key = _read_public_key(public_key_file)
        else:
            key = load_public_key(bundle["public_key"])
        if bundle.get("kind") == "inclusion":
            problem = verify_inclusion_bundle(bundle, key)
            what = (
                f"entry {bundle['entry']['seq']} is included in the signed checkpoint "
                f"at size {bundle['checkpoint']['size']}"
            )
        elif bundle.get("kind") == "consistency":
            problem = verify_consistency_bundle(bundle, key)
            what = (
                f"the signed checkpoint at size {bundle['new']['size']} extends the one "
                f"at size {bundle['old']['size']}"
            )
        else:
            raise ValidationError(
                f"{file}: 'kind' must be 'inclusion' or 'consistency'", field="kind"
            )
    except (ValueError, KeyError, TypeError) as error:
        raise IntegrityError(
            f"{file} is not a valid proof bundle: {type(error).__name__}: {error}"
        ) from None
    if problem is not None:
        raise IntegrityError(f"{file} does not verify: {problem}")
    _say(f"ok: {what} (key {key_id(key)})")
    if public_key_file is None:
        _say(
            "note: checked with the public key inside the bundle; pass --public-key with the "
            "registry's key to prove who signed it"
        )


def _read_bundle(file: Path) -> dict[str, Any]:
    try:
        bundle = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise IntegrityError(f"{file} is not JSON: {error}") from None
    if not isinstance(bundle, dict):
        raise IntegrityError(f"{file} is not a proof bundle (a JSON object)")
    return bundle


@audit.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def export(state: State, file: Path) -> None:
    """Write the whole log, with its checkpoints and public key, as JSON lines to FILE
    (verify it with 'audit verify --file')."""
    count = state.registry.export_audit(file)
    _say(f"exported {count} entries to {file}")


@audit.command("public-key")
@_output_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the key id and the PEM.")
@pass_state
def public_key(state: State, output: Path | None, as_json: bool) -> None:
    """Print the PEM public key that audit checkpoints are signed with."""
    pem = state.registry.audit_public_key()
    if as_json:
        record = {"key_id": key_id(load_public_key(pem)), "public_key": pem}
        _write_bundle(record, output, "the audit public key")
        return
    if output is None:
        click.echo(pem, nl=not pem.endswith("\n"))
        return
    write_text(output, pem)
    _say(f"wrote the audit public key to {output}")
