"""Moving artifact files between a directory and a blob store (local, or over HTTP): hashing,
manifests, verified downloads. No SQLAlchemy: the client and the services share it."""
