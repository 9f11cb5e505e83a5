"""Stage actions, one module per ``uses:`` value. Each has ``idempotent(stage) -> bool`` (may
the stage run again after a worker died during it?) and ``run(ctx) -> Outcome``.

To add one: write ``actions/<name>.py`` with those two functions, add it here, and teach
``domain/pipeline_spec.py`` its settings (the validation runs when a pipeline is applied).
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from modelyard.worker.actions import approval, command, deploy, gate, notify, scan, validate

ACTIONS: Final[dict[str, ModuleType]] = {
    "validate": validate,
    "scan": scan,
    "command": command,
    "gate": gate,
    "approval": approval,
    "deploy": deploy,
    "notify": notify,
}
