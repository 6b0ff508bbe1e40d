"""Runtime settings, read from the environment (``EMOTIONDESK_`` prefix) and ``.env``.

Read them through :func:`get_settings` (cached), never at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Defaults used in more than one place, defined once.
#: Longest text accepted (characters): per API text, per conversation turn, per archive row.
MAX_TEXT_CHARS = 20_000
#: Turns of context kept per conversation (bounded work per turn).
DIALOGUE_WINDOW = 8


class Settings(BaseSettings):
    """Settings shared by the library, the CLI and the service."""

    model_config = SettingsConfigDict(
        env_prefix="EMOTIONDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    #: A model pack directory (with ``pack.json``), a model directory, or a model
    #: registry (``registry.json``: its champion is served); empty means the shipped pack.
    model_dir: Path | None = None
    #: With a registry: seconds between checks of its champion (a promotion or
    #: rollback is served without a restart); 0: never re-check.
    model_poll_seconds: float = Field(default=2.0, ge=0)
    #: With a registry: score its challenger in shadow on live traffic (agreement
    #: counted, never returned to callers).
    shadow: bool = False
    #: Longest text analysed (read whole, in overlapping chunks); longer ones keep
    #: their head and tail.
    max_chars: int = MAX_TEXT_CHARS  # the same number as what is accepted, a separate setting
    #: Long texts are read in chunks of this many characters (0: one piece, the
    #: head and tail of ``max_chars``, as before issue 18).
    chunk_chars: int = Field(default=400, ge=0)
    #: Read romanised Chinese (pinyin) with the Chinese models.
    pinyin: bool = True
    #: Read the lexical signals (emoji, threats, sarcasm, ...) on top of the models.
    signals: bool = True
    #: The models and signals read a text without its PII and PII placeholders
    #: (a phone number and ``[PHONE]`` read alike).
    pii_neutral: bool = True
    #: English texts are read with one-slip typos of unknown words put right
    #: ("brkoe" -> "broke"; ``emotiondesk.text.spelling``).
    spelling: bool = True
    #: A signal lexicon (YAML, the format of ``text/data/signals.yaml``) read on top
    #: of the models instead of the shipped one.
    signals_file: str | None = None
    #: BLAS threads of the USE sentence encoder (``use_head`` models of the pack).
    use_threads: int = Field(default=1, ge=1)

    # -- service and storage (emotiondesk serve / demo / db / keys) ----------------------
    #: SQLAlchemy URL; empty means SQLite in the user data directory.
    #: PostgreSQL: ``postgresql+psycopg://user:pass@host/db``.
    database_url: SecretStr | None = None
    #: Development mode: allows a placeholder ``api_key`` and verbose errors in logs.
    dev: bool = False
    #: A bootstrap key with every scope, checked besides the keys in the database.
    #: Outside ``dev`` it must be a real secret (not a placeholder, 24+ characters).
    api_key: SecretStr | None = None
    #: Keep the unmasked message text in the database too (off: only masked text).
    store_raw_text: bool = False
    #: Create or upgrade the database schema when the service starts.
    auto_migrate: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: Seconds a verified API key is trusted without asking the database again:
    #: a revoked key stops working within this bound (0: check every request).
    api_key_cache_seconds: float = Field(default=10.0, ge=0)
    #: Requests per minute per API key (a key's own limit overrides it); 0 disables.
    rate_limit_per_minute: int = Field(default=1200, ge=0)
    #: Failed authentications (unknown key) per minute per client address before 429.
    auth_failures_per_minute: int = Field(default=30, ge=0)
    #: Require an API key (read scope) for ``/metrics``; unset: on outside ``dev`` mode.
    metrics_require_key: bool | None = None
    #: Store ``customer_id`` / ``agent_id`` as a keyed hash (``pseudonym_key``) instead
    #: of the value: still joinable (the same id, the same pseudonym; filters by the
    #: raw id work), never readable. Off: PII inside them is masked like any text.
    pseudonymize_ids: bool = False
    #: The secret of the keyed hash (HMAC-SHA256); keep it stable, or pseudonyms change.
    pseudonym_key: SecretStr | None = None
    #: Largest request body accepted (bytes): larger ones get 413.
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    #: Most texts in one /v1/analyze call.
    max_texts: int = Field(default=128, ge=1)
    #: Longest single text accepted (characters): longer ones get 422.
    max_text_chars: int = Field(default=MAX_TEXT_CHARS, ge=1)
    #: Gather concurrent analyse calls into one model batch.
    batching: bool = True
    batch_max_size: int = Field(default=64, ge=1)
    #: Longest wait (ms) for more requests to join a batch.
    batch_max_wait_ms: float = Field(default=2.0, ge=0)
    #: Answer well-formed ``POST /v1/analyze`` calls from an already verified key in a
    #: pure ASGI fast lane (same answers, less CPU); off: every call goes through FastAPI.
    analyze_fast_path: bool = True
    #: The conversation engine run on every ingested message ("module:attribute").
    conversation_engine: str = "emotiondesk.usecases.conversation:DialogueHook"

    # -- conversation intelligence (dialogue/, policy/, replies/) ----------------------
    #: A YAML rule file for the service policy; empty means the shipped default rules.
    policy_file: Path | None = None
    #: A YAML file with the numbers of the escalation-risk rules (the shape of
    #: ``dialogue/risk_rules.yaml``; keys left out keep the shipped values).
    risk_file: Path | None = None
    #: An FAQ knowledge base (YAML or CSV); empty means the shipped sample shop FAQ.
    faq_file: Path | None = None
    #: A product catalog (YAML or CSV) for ``recommend``; empty means the shipped sample.
    catalog_file: Path | None = None
    #: Turns of context kept per conversation (bounded work per turn).
    dialogue_window: int = DIALOGUE_WINDOW
    #: The agent-quality rubric (YAML); empty means the shipped zh + en rubric.
    rubric_file: Path | None = None
    #: What reads the customer turns ``POST /v1/coach`` scores a draft against when the
    #: request gives no ``emotion`` (the emotion decides which criteria apply): ``fast``
    #: (the shipped n-gram tier, ``models/fast``; the coach's p95 <= 50 ms target is
    #: measured with it), ``service`` (the service's own model pack: slower with the
    #: default pack's e5 blends) or a pack directory. Readings are cached per text.
    coach_model: str = "fast"
    #: Optional LLM reply backend (any OpenAI-compatible endpoint); off by default.
    llm_enabled: bool = False
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout: float = 5.0

    # -- analytics (analytics/, /v1/analytics, dashboard) --------------------------------
    #: Run negative-surge detection per category and per product every N minutes
    #: (new surges become alerts, once each); 0 disables the background scan.
    surge_scan_minutes: float = Field(default=10.0, ge=0)
    #: ``low`` | ``medium`` | ``high``: the scan's sensitivity (alpha 1e-4, 1e-3, 1e-2).
    surge_sensitivity: Literal["low", "medium", "high"] = "medium"
    #: A YAML aspect lexicon that extends the shipped one (``mode: replace``: instead of it);
    #: the shape of ``analytics/aspects_lexicon.yaml``. Empty means the shipped lexicon.
    aspect_lexicon_file: Path | None = None

    # -- alert notifications (service/notify.py) -----------------------------------------
    #: POST every new alert to this URL (empty: no notifications).
    alert_webhook_url: str = ""
    #: The message shape: generic JSON, or a WeCom / DingTalk / Slack robot's.
    alert_webhook_format: Literal["generic", "wecom", "dingtalk", "slack"] = "generic"
    #: Sign each request with this secret (HMAC-SHA256; DingTalk's own signature too).
    alert_webhook_secret: SecretStr = SecretStr("")
    #: Retries of a failed delivery (connection errors, 429, 5xx), with backoff.
    alert_webhook_retries: int = Field(default=3, ge=0, le=10)
    #: The dashboard's public base URL, for links in the messages (optional).
    public_url: str = ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` in tests)."""
    return Settings()
