"""The delivery worker: senders that do the I/O of delivering events to rule targets."""
