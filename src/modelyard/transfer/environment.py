"""Capturing the running Python environment for a version's lineage."""

from __future__ import annotations

import dataclasses
import platform
from importlib import metadata

from modelyard.domain.model import Lineage


def capture_environment(lineage: Lineage | None = None) -> Lineage:
    """``lineage`` with the running interpreter's version and installed distributions filled in
    (fields already set are kept). Call it in the training process, where it is true."""
    base = lineage or Lineage()
    packages = base.packages or tuple(
        sorted(
            {
                f"{d.metadata['Name']}=={d.version}"
                for d in metadata.distributions()
                if d.metadata["Name"]
            },
            key=str.lower,
        )
    )
    return dataclasses.replace(
        base, python_version=base.python_version or platform.python_version(), packages=packages
    )
