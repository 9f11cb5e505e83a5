"""A version's files: downloads, blob passthrough for the upload protocol, blob maintenance."""
