"""A JSON response rendered by orjson: the write path answers thousands of times a second,
and orjson renders its small bodies several times faster than the standard library."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
