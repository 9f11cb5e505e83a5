"""Blob backends: a content-addressed store over filesystem or S3 objects, with envelope
encryption."""
