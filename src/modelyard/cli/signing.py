"""``modelyard signing …`` (the registry's key, the keys a group trusts) and the signature
commands of ``modelyard version`` (``sign``, ``signature``, ``signatures``), plus the
offline check behind ``version verify --public-key … --signature …``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from modelyard.cli.output import console, json_option, print_json, print_table
from modelyard.cli.state import State, pass_state
from modelyard.domain.references import parse_reference
from modelyard.domain.signatures import REGISTRY, VersionSignature, check_registry_bundle
from modelyard.domain.signing_keys import key_fingerprint, load_registry_key
from modelyard.errors import IntegrityError, NotFoundError
from modelyard.transfer.destinations import write_text
from modelyard.transfer.local_copies import compare_directory, verify_signed_directory
from modelyard.transfer.signatures import read_signature

_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_output_option = click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)


def _say(text: str) -> None:
    console.print(text, markup=False)


def _write(text: str, output: Path | None, what: str) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    write_text(output, text)
    _say(f"wrote {what} to {output}")


@click.group("signing")
def signing() -> None:
    """Signatures: the registry's manifest-signing key and the keys groups trust."""


@signing.command("public-key")
@_output_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the key id and the PEM.")
@pass_state
def public_key(state: State, output: Path | None, as_json: bool) -> None:
    """Print the Ed25519 public key (PEM) the registry signs version manifests with."""
    pem = state.registry.signing_public_key()
    if as_json:
        key_id = key_fingerprint(load_registry_key(pem))
        text = json.dumps({"key_id": key_id, "public_key": pem}, indent=2) + "\n"
        _write(text, output, "the registry's signing public key")
        return
    _write(pem, output, "the registry's signing public key")


@signing.command("trust")
@click.argument("group")
@click.argument("name")
@click.argument("public_key_file", metavar="PEMFILE", type=_existing_file)
@pass_state
def trust(state: State, group: str, name: str, public_key_file: Path) -> None:
    """Trust PEMFILE (an EC public key) for model-signing signatures on GROUP as NAME."""
    pem = public_key_file.read_bytes().decode("utf-8", errors="replace")  # not PEM: refused
    key = state.registry.add_trusted_key(group, name, pem)
    _say(f"{group} trusts {key.name} ({key.algorithm}, key {key.key_id[:16]}…)")


@signing.command("trusted")
@click.argument("group")
@json_option
@pass_state
def trusted(state: State, group: str, as_json: bool) -> None:
    """List the keys whose model-signing signatures GROUP accepts."""
    keys = state.registry.list_trusted_keys(group)
    if as_json:
        print_json([k.to_dict() for k in keys])
        return
    print_table(
        ["name", "algorithm", "key", "added", "by"],
        [
            (k.name, k.algorithm, k.key_id[:16], f"{k.created_at:%Y-%m-%d %H:%M}", k.created_by)
            for k in keys
        ],
    )


@signing.command("untrust")
@click.argument("group")
@click.argument("name")
@pass_state
def untrust(state: State, group: str, name: str) -> None:
    """Stop trusting key NAME on GROUP (the signatures it made stop counting as valid)."""
    removed = state.registry.remove_trusted_key(group, name)
    _say(f"{group} no longer trusts {removed.name} (key {removed.key_id[:16]}…)")


# ---------------------------------------------------------------- modelyard version …


@click.command("sign")
@click.argument("reference")
@click.option(
    "--signature",
    "signature_file",
    type=_existing_file,
    metavar="FILE",
    help="A signature made by 'model_signing sign key' over the version's files.",
)
@click.option(
    "--sign-with",
    type=_existing_file,
    metavar="KEYFILE",
    help="Sign the version's (fetched, verified) files here with this EC private key.",
)
@pass_state
def sign(state: State, reference: str, signature_file: Path | None, sign_with: Path | None) -> None:
    """Attach a model-signing signature to REFERENCE; a key the group trusts must have made it."""
    if (signature_file is None) == (sign_with is None):
        raise click.UsageError("give --signature FILE or --sign-with KEYFILE (one of them)")
    recorded = state.registry.sign_version(reference, signature=signature_file, sign_with=sign_with)
    _say(f"{recorded.reference}: signed by {recorded.signer} (key {recorded.key_id[:16]}…)")


@click.command("signature")
@click.argument("reference")
@_output_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the signature's record (signer, key, valid now, bundle) instead of the bundle.",
)
@pass_state
def signature(state: State, reference: str, output: Path | None, as_json: bool) -> None:
    """Print the registry's signature of REFERENCE (a bundle 'version verify' checks offline)."""
    if as_json:
        record = _registry_signature(state, reference).to_dict()
        _write(json.dumps(record, indent=2) + "\n", output, f"the signature record of {reference}")
        return
    if output is None:
        click.echo(_registry_signature_text(state, reference), nl=False)
        return
    write_registry_signature(state, reference, output)


def write_registry_signature(
    state: State, reference: str, output: Path, *, field: str = "output"
) -> None:
    write_text(output, _registry_signature_text(state, reference), field=field)
    _say(f"wrote the registry signature of {reference} to {output}")


def _registry_signature_text(state: State, reference: str) -> str:
    bundle = _registry_signature(state, reference).bundle
    return json.dumps(bundle, indent=2, sort_keys=True) + "\n"


def _registry_signature(state: State, reference: str) -> VersionSignature:
    found = state.registry.version_signatures(reference)
    registry = next((s for s in found if s.kind == REGISTRY), None)
    if registry is None:
        raise NotFoundError(f"{reference} has no registry signature", field="reference")
    return registry


@click.command("signatures")
@click.argument("reference")
@json_option
@pass_state
def signatures(state: State, reference: str, as_json: bool) -> None:
    """List REFERENCE's signatures, each verified now."""
    found = state.registry.version_signatures(reference)
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    print_table(
        ["kind", "signer", "key", "valid", "signed", "by", "problem"],
        [
            (
                s.kind,
                s.signer,
                s.key_id[:16],
                "yes" if s.valid else "NO",
                f"{s.created_at:%Y-%m-%d %H:%M}",
                s.created_by,
                s.problem or "",
            )
            for s in found
        ],
    )


VERSION_COMMANDS = [sign, signature, signatures]


# ---------------------------------------------------------------- version verify


def verify_with_key(
    state: State,
    reference: str,
    directory: Path,
    *,
    public_key_file: Path | None,
    signature_file: Path | None,
) -> tuple[str, list[str]]:
    """``version verify`` with a key given out of band: offline with ``--signature``
    (no store or server is contacted), else against the registry's stored signature.
    Returns the reference checked and the problems found."""
    if public_key_file is None:
        raise click.UsageError(
            "--signature needs --public-key PEMFILE (the registry's key, obtained out of band)"
        )
    pem = public_key_file.read_bytes()
    if signature_file is not None:
        bundle = read_signature(signature_file)
        ref = str(parse_reference(reference))
        return ref, verify_signed_directory(ref, directory, signature=bundle, public_key=pem)
    version = state.registry.get_version(reference)
    found = state.registry.version_signatures(version.reference)
    stored: dict[str, Any] | None = next((s.bundle for s in found if s.kind == REGISTRY), None)
    if stored is None:
        raise IntegrityError(f"{version.reference} has no registry signature")
    signed = check_registry_bundle(stored, load_registry_key(pem), reference=version.reference)
    expected = {path: (sha, signed.sizes.get(path)) for path, sha in signed.files.items()}
    return version.reference, compare_directory(expected, directory, version.reference)
