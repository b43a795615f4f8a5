"""The documents the code cites are in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_CITED = re.compile(r"[\w./-]+\.md\b")


def test_every_document_cited_in_the_code_is_in_the_repository() -> None:
    """Each ``*.md`` named in ``src/`` exists at that path from the repository root."""
    missing = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "src").rglob("*.py")
        for name in _CITED.findall(path.read_text())
        if not (ROOT / name).is_file()
    )
    assert missing == []
