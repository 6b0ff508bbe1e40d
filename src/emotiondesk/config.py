"""Runtime settings, read from the environment (``EMOTIONDESK_`` prefix) and ``.env``.

Read them through :func:`get_settings` (cached), never at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings shared by the library, the CLI and the service."""

    model_config = SettingsConfigDict(
        env_prefix="EMOTIONDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    #: A model pack directory (with ``pack.json``); empty means the shipped pack.
    model_dir: Path | None = None
    #: Longest text analysed; longer ones keep their head and tail.
    max_chars: int = 2000


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` in tests)."""
    return Settings()
