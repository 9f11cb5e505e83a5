"""Use cases: one transaction per call; validation, audit entry and outbox event happen here."""
