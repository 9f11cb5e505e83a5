"""Client-side model-signing signatures: a directory signed with an EC private key by the
OpenSSF ``model_signing`` library (key mode), as ``model_signing sign key`` signs it.

The files are hashed with the "files" serialization and sha256, symlinks followed and nothing
ignored (no ``.git`` exclusion), so the signature covers exactly what modelyard uploads.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from modelyard.domain.signing_keys import CURVES
from modelyard.errors import ValidationError


def check_private_key(path: str | Path, *, field: str = "sign_with") -> Path:
    """``path`` if it holds an unencrypted EC P-256/384/521 private key (model-signing's key
    mode); checked before anything is hashed or uploaded."""
    key_path = Path(path)
    try:
        key = load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as e:
        raise ValidationError(
            f"{field}: cannot read {str(key_path)!r}: {e.strerror}", field=field
        ) from e
    except TypeError as e:
        raise ValidationError(
            f"{field}: {str(key_path)!r} is encrypted; modelyard signs only with unencrypted "
            "keys (sign with 'model_signing sign key --password' and pass --signature instead)",
            field=field,
        ) from e
    except ValueError as e:
        raise ValidationError(
            f"{field}: {str(key_path)!r} is not a PEM private key ({e})", field=field
        ) from e
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in CURVES:
        raise ValidationError(
            f"{field}: {str(key_path)!r} is not an EC P-256, P-384 or P-521 private key "
            "(model-signing's key mode)",
            field=field,
        )
    return key_path


def sign_directory(
    directory: str | Path, private_key: str | Path, *, ignore: Sequence[str] = ()
) -> dict[str, Any]:
    """The model-signing bundle (as JSON) of ``directory``'s files, signed with
    ``private_key``; ``ignore`` names files (relative paths) left out."""
    key_path = check_private_key(private_key)
    # Imported here: model_signing pulls in sigstore, slow to import and needed only to sign.
    import model_signing.hashing
    import model_signing.signing

    hashing = (
        model_signing.hashing.Config()  # type: ignore[no-untyped-call]
        .set_ignored_paths(paths=list(ignore), ignore_git_paths=False)
        .set_allow_symlinks(True)
    )
    signer = model_signing.signing.Config().use_elliptic_key_signer(private_key=key_path)  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory(prefix="modelyard-sign-") as scratch:
        out = Path(scratch) / "model.sig"
        try:
            signer.set_hashing_config(hashing).sign(Path(directory), out)
        except (ValueError, OSError) as e:
            raise ValidationError(
                f"sign_with: model_signing could not sign {str(directory)!r}: {e}",
                field="sign_with",
            ) from e
        bundle: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return bundle
