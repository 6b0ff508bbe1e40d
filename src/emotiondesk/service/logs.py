"""Log hygiene: what must never reach a log line (keys sent in a query string)."""

from __future__ import annotations

import logging
import re

#: Query parameters whose values never reach the access log.
SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:api[_-]?key|x-api-key|key|token|access[_-]?token|password|secret)=)[^&#\s]*"
)


class RedactSecretsFilter(logging.Filter):
    """Blanks secret query parameters (``?api_key=...``) in uvicorn's access-log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if "=" in path:
                record.args = (*args[:2], SECRET_PARAMS.sub(r"\1[REDACTED]", path), *args[3:])
        return True


def install_access_log_redaction() -> None:
    """Add :class:`RedactSecretsFilter` to ``uvicorn.access`` (once; each worker calls it)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecretsFilter) for f in access.filters):
        access.addFilter(RedactSecretsFilter())
