"""Runtime settings, read from the environment (``EMOTIONDESK_`` prefix) and ``.env``.

Read them through :func:`get_settings` (cached), never at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
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

    # -- conversation intelligence (dialogue/, policy/, replies/) ----------------------
    #: A YAML rule file for the service policy; empty means the shipped default rules.
    policy_file: Path | None = None
    #: An FAQ knowledge base (YAML or CSV); empty means the shipped sample shop FAQ.
    faq_file: Path | None = None
    #: A product catalog (YAML or CSV) for ``recommend``; empty means the shipped sample.
    catalog_file: Path | None = None
    #: Turns of context kept per conversation (bounded work per turn).
    dialogue_window: int = 8
    #: Optional LLM reply backend (any OpenAI-compatible endpoint); off by default.
    llm_enabled: bool = False
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout: float = 5.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` in tests)."""
    return Settings()
