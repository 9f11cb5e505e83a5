"""/api/v1 signatures: the registry's public key, a version's signatures (and attaching a
model-signing one), and the keys a group trusts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import Field

from modelyard.api.deps import Caller
from modelyard.api.responses import JSON, created
from modelyard.api.routes_versions import reference
from modelyard.api.schemas import ERRORS, Body

router = APIRouter(prefix="/api/v1", tags=["signatures"], responses=ERRORS)


class SignatureAttach(Body):
    bundle: dict[str, Any] = Field(
        description="A model-signing signature bundle, as 'model_signing sign key' writes it."
    )


class TrustedKeyCreate(Body):
    name: str = Field(description="The signer name its signatures are recorded under.")
    public_key: str = Field(description="PEM EC public key (P-256, P-384 or P-521).")


@router.get("/signing/public-key", response_class=PlainTextResponse)
def signing_public_key(registry: Caller) -> str:
    """The Ed25519 public key (PEM) the registry signs every version's manifest with."""
    return registry.signing_public_key()


@router.get("/groups/{group}/versions/{selector}/signatures")
def version_signatures(group: str, selector: str, registry: Caller) -> JSON:
    """The version's signatures (registry's first), each with its verdict now."""
    found = registry.version_signatures(reference(group, selector))
    return JSON([s.to_dict() for s in found])


@router.post("/groups/{group}/versions/{selector}/signatures", status_code=201)
def sign_version(group: str, selector: str, body: SignatureAttach, registry: Caller) -> JSON:
    """Attach a model-signing signature made by a key the group trusts."""
    return created(
        registry.sign_version(reference(group, selector), signature=body.bundle).to_dict()
    )


@router.get("/groups/{group}/trusted-keys")
def list_trusted_keys(group: str, registry: Caller) -> JSON:
    return JSON([k.to_dict() for k in registry.list_trusted_keys(group)])


@router.post("/groups/{group}/trusted-keys", status_code=201)
def add_trusted_key(group: str, body: TrustedKeyCreate, registry: Caller) -> JSON:
    """Trust a public key for model-signing signatures on the group's versions (admins)."""
    return created(registry.add_trusted_key(group, body.name, body.public_key).to_dict())


@router.delete("/groups/{group}/trusted-keys/{name}")
def remove_trusted_key(group: str, name: str, registry: Caller) -> JSON:
    """Stop trusting a key; the signatures it made no longer count as valid (admins)."""
    return JSON(registry.remove_trusted_key(group, name).to_dict())
