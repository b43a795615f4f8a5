"""Readiness on SQLite notices a database file that is gone."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_settings
from tests.support import running_app


def test_readyz_answers_503_when_the_sqlite_file_is_removed(sqlite_url: str) -> None:
    """Pooled connections would keep reading a deleted file; readiness checks afresh."""
    with running_app(make_settings(sqlite_url)) as harness:
        assert harness.client.get("/readyz").status_code == 200
        path = Path(sqlite_url.removeprefix("sqlite:///"))
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        response = harness.client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["error"]["message"] == "storage unavailable"
        assert set(body) == {"error", "uuid"}
