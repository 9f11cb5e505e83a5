"""Access, audit, signatures, secrets at rest and unsafe-model scans."""
