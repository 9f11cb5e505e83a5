"""Webhook secrets at rest: sealed by the key-encryption key (the key file or KMS) before a
rule is stored, unsealed only where deliveries are signed. A store without a key-encryption
key (a plaintext blob store never encrypted) keeps them as given."""

from __future__ import annotations

from dataclasses import replace

from modelyard.domain.rules import Rule
from modelyard.domain.sealed import SEALED, sealed_by
from modelyard.errors import ConfigError, ValidationError
from modelyard.services.ports import KeyEncryption


def _owner(rule: Rule) -> str:
    return f"rule:{rule.name}"


def refuse_sealed_input(targets: object) -> None:
    """A secret a user gives must not look sealed (it would be taken for one)."""
    if not isinstance(targets, list | tuple):
        return
    for i, target in enumerate(targets):
        secret = target.get("secret") if isinstance(target, dict) else None
        if isinstance(secret, str) and secret.startswith(SEALED):
            raise ValidationError(
                f"targets[{i}].secret: must not start with {SEALED!r} (reserved for secrets "
                "sealed at rest)",
                field=f"targets[{i}].secret",
            )


def seal_rule(rule: Rule, kek: KeyEncryption) -> Rule:
    """``rule`` with every plaintext webhook secret sealed (those sealed stay as they are);
    unchanged when there is no key to seal with."""
    if not kek.can_seal:
        return rule
    targets = []
    for target in rule.targets:
        secret = target.config.get("secret")
        if isinstance(secret, str) and sealed_by(secret) is None:
            secret = kek.seal(secret, owner=_owner(rule))
            targets.append(replace(target, config={**target.config, "secret": secret}))
        else:
            targets.append(target)
    return replace(rule, targets=tuple(targets))


def unseal_rule(rule: Rule, kek: KeyEncryption) -> Rule:
    """``rule`` with its webhook secrets in plaintext, for the sender that signs with them."""
    targets = []
    for target in rule.targets:
        secret = target.config.get("secret")
        if isinstance(secret, str) and sealed_by(secret) is not None:
            if not kek.can_seal:
                raise ConfigError(
                    f"rule {rule.name!r}: its webhook secret is sealed but no key-encryption "
                    "key is configured (key_file or kms_key_id)",
                    field="key_file",
                )
            plain = kek.unseal(secret, owner=_owner(rule))
            targets.append(replace(target, config={**target.config, "secret": plain}))
        else:
            targets.append(target)
    return replace(rule, targets=tuple(targets))


def reseal_rule(rule: Rule, kek: KeyEncryption) -> Rule | None:
    """``rule`` re-sealed under the current key when a secret is plaintext or sealed by
    another key (key rotation, ``blobs encrypt``); None when nothing needs to change."""
    current = kek.current_id
    stale = [
        t
        for t in rule.targets
        if isinstance(t.config.get("secret"), str) and sealed_by(t.config["secret"]) != current
    ]
    if not stale:
        return None
    return seal_rule(unseal_rule(rule, kek), kek)
