"""What emotiondesk stores about people: masked free text and pseudonymous identifiers.

Every free-text field that is stored (by the service and by the archive
import) goes through :class:`Privacy` first:
message text (in ingestion), the feedback note, conversation metadata (every
string, keys too, at any depth) and the identifiers ``customer_id`` and
``agent_id``. Identifiers are either masked like text (a customer id that is a
phone number becomes ``[PHONE]``) or, with ``EMOTIONDESK_PSEUDONYMIZE_IDS``,
replaced by a keyed hash (HMAC-SHA256 under ``EMOTIONDESK_PSEUDONYM_KEY``):
the same id always maps to the same pseudonym, so conversations stay joinable
and filters by the raw id still work, but the id cannot be read back or
guessed without the key.

Example:
    >>> p = Privacy(pseudonym_key=b"k" * 32)
    >>> p.identifier("13812345678") == p.identifier("13812345678")
    True
    >>> Privacy().identifier("13812345678")
    '[PHONE]'
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from emotiondesk.config import Settings
from emotiondesk.errors import ConfigError
from emotiondesk.text.pii import mask_json, mask_pii

PSEUDONYM_PREFIX = "p_"
_PSEUDONYM = re.compile(PSEUDONYM_PREFIX + "[0-9a-f]{32}")


class Privacy:
    """Masks free text; masks or pseudonymises identifiers.

    Args:
        pseudonym_key: the HMAC secret; ``None`` masks identifiers instead.
    """

    def __init__(self, pseudonym_key: bytes | None = None) -> None:
        self._key = pseudonym_key

    @classmethod
    def from_settings(cls, settings: Settings) -> Privacy:
        if not settings.pseudonymize_ids:
            return cls()
        key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else ""
        if len(key) < 16:
            raise ConfigError(
                "EMOTIONDESK_PSEUDONYMIZE_IDS is on but EMOTIONDESK_PSEUDONYM_KEY (pseudonym_key) "
                "is missing or shorter than 16 characters: set a stable secret"
            )
        return cls(key.encode("utf-8"))

    @property
    def pseudonymizes(self) -> bool:
        return self._key is not None

    def identifier(self, value: str | None) -> str | None:
        """``value`` as it is stored (and as filters must compare it)."""
        if value is None:
            return None
        if self._key is None:
            return mask_pii(value)
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:32]

    def filter_identifier(self, value: str | None) -> str | None:
        """What a filter by ``value`` compares with: the raw id or its pseudonym both work."""
        if value is None or (self._key is not None and _PSEUDONYM.fullmatch(value)):
            return value
        return self.identifier(value)

    @staticmethod
    def text(value: str | None) -> str | None:
        return None if value is None else mask_pii(value)

    @staticmethod
    def json(value: Any) -> Any:
        return mask_json(value)
