"""Routes of this group; see the module list in README's architecture section."""

from __future__ import annotations

from starlette.routing import Route

routes: list[Route] = []
