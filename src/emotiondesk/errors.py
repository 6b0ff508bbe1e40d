"""Domain exceptions with stable codes.

Every error a user can cause carries a short stable ``code`` (used by the HTTP
service and the CLI) and a message that says what to do about it.
"""

from __future__ import annotations


class EmotionDeskError(Exception):
    """Base class of every error emotiondesk raises on purpose."""

    code: str = "emotiondesk_error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInputError(EmotionDeskError):
    """The caller passed something that cannot be analysed or used."""

    code = "invalid_input"
    http_status = 422


class DataError(EmotionDeskError):
    """A dataset file is missing, unreadable or malformed."""

    code = "data_error"
    http_status = 422


class LabelError(DataError):
    """A label is not in the scheme (or a dataset's label map)."""

    code = "unknown_label"


class ModelError(EmotionDeskError):
    """A model directory is missing, incomplete or incompatible."""

    code = "model_error"
    http_status = 500


class ConfigError(EmotionDeskError):
    """A settings value or configuration file is invalid."""

    code = "config_error"
    http_status = 500


class NotFoundError(EmotionDeskError):
    """A requested resource does not exist."""

    code = "not_found"
    http_status = 404


class PromotionRefusedError(ModelError):
    """A model version may not become the champion (its gate failed or is missing)."""

    code = "promotion_refused"


# -- service errors (the HTTP service maps each to its status in one handler) ------------


class StorageError(EmotionDeskError):
    """The database is unreachable, not migrated, or refused a write."""

    code = "storage_error"
    http_status = 503


class AuthenticationError(EmotionDeskError):
    """No API key, or an unknown or revoked one."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(EmotionDeskError):
    """The API key lacks the scope this operation needs."""

    code = "forbidden"
    http_status = 403


class ConflictError(EmotionDeskError):
    """The request contradicts what is already stored."""

    code = "conflict"
    http_status = 409


class PayloadTooLargeError(EmotionDeskError):
    """The request body is larger than the service accepts."""

    code = "payload_too_large"
    http_status = 413


class RateLimitError(EmotionDeskError):
    """The API key sent more requests than its rate limit allows."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ServiceUnavailableError(EmotionDeskError):
    """The service is starting, draining or missing a component."""

    code = "unavailable"
    http_status = 503
