"""The ``release`` pipeline ``modelyard init`` applies to a new store (DESIGN.md §6): a version
is validated, scanned for unsafe pickles, gated on its AUC, reviewed by one approver, deployed to
staging, approved again, and deployed to production. It has no trigger: runs start by hand
until the user adds one (an automatic trigger would open approval requests — and reject
versions when they expire — without anyone having asked for it)."""

from __future__ import annotations

from typing import Final

DEFAULT_PIPELINE_NAME: Final = "release"

DEFAULT_RELEASE_PIPELINE: Final = """\
# The default release pipeline (created by `modelyard init`). Edit it and apply it again:
#   modelyard pipeline show release > release.yaml && $EDITOR release.yaml
#   modelyard pipeline apply release.yaml
name: release
description: validate, scan, gate, review, staging, sign-off, production
# Started by hand (`modelyard pipeline run release GROUP/N`). To run it for every new
# version instead, add:
#   trigger: {type: [version.created]}
stages:
  - name: validate            # the metrics the gate reads are there; the files are intact
    uses: validate
    require: [metrics.auc]
  - name: scan                # unsafe-model scanning: fails on dangerous pickle imports
    uses: scan
  - name: quality             # CEL over the candidate and what production runs now
    uses: gate
    when:
      - candidate.metrics.auc >= 0.8
      - production == null || candidate.metrics.auc >= production.metrics.auc - 0.005
  - name: review              # one approver who did not register the version
    uses: approval
    approvers: {role: approver, count: 1}
    timeout: 7d
  - name: staging
    uses: deploy
    environment: staging
  - name: go-live             # a second sign-off; when it passes the version is Approved
    uses: approval
    approvers: {role: approver, count: 1}
    timeout: 7d
  - name: production          # production's default policy: Approved, scan clean, signed
    uses: deploy
    environment: production
"""
