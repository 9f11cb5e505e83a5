"""Fast JSON responses.

Routes return ``JSON(data)`` where ``data`` is already JSON-shaped (the entities'
``to_dict()``), so FastAPI's response validation and ``jsonable_encoder`` walk — which cost
more than the database work for a page of 1,000 versions — are skipped, and orjson
encodes it.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def created(content: Any) -> JSON:
    return JSON(content, status_code=201)
