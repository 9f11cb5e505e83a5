"""Key material: key-encryption keys (key file, KMS) and the registry's Ed25519 signing keys."""
