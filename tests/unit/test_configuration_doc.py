"""The configuration page keeps up with the settings."""

from __future__ import annotations

from pathlib import Path

from xpay_auth.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    """docs/configuration.md names the environment variable of every setting."""
    text = DOC.read_text()
    missing = [name for name in Settings.model_fields if f"`XPAY_AUTH_{name.upper()}`" not in text]
    assert missing == []
