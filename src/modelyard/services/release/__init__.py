"""Pipelines, runs, approvals, deployments and release policies."""
