"""An optional LLM reply backend through any OpenAI-compatible endpoint.

Off by default (``EMOTIONDESK_LLM_ENABLED``). The prompt carries the detected
emotion and the policy decisions; any failure (unreachable host, time-out,
non-200 answer, malformed JSON) raises :class:`LLMError`, which the
suggester catches to fall back to the template replies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from emotiondesk.errors import ConfigError, EmotionDeskError

logger = logging.getLogger(__name__)

LANGUAGE_NAMES = {"zh": "Simplified Chinese", "en": "English"}


class LLMError(EmotionDeskError):
    """The LLM endpoint could not give a reply (the caller falls back to templates)."""

    code = "llm_unavailable"
    http_status = 502


class LLMBackend:
    """A chat-completions client for an OpenAI-compatible endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080/v1`` (``/chat/completions`` is appended).
        model: the model name the endpoint serves.
        api_key: sent as a bearer token when not empty.
        timeout: seconds for the whole request.
    """

    def __init__(
        self, base_url: str, model: str, *, api_key: str = "", timeout: float = 5.0
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"LLM base URL {base_url!r} must start with http:// or https://")
        if not model:
            raise ConfigError("the LLM backend needs a model name (EMOTIONDESK_LLM_MODEL)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Any) -> LLMBackend | None:
        """The backend the settings describe, or ``None`` when it is off."""
        if not settings.llm_enabled:
            return None
        return cls(
            settings.llm_base_url,
            settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(),
            timeout=settings.llm_timeout,
        )

    def complete(self, messages: Sequence[dict[str, str]], *, max_tokens: int = 200) -> str:
        """The endpoint's reply to ``messages`` (raises :class:`LLMError` on any failure)."""
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "messages": list(messages),
            "temperature": 0.7,
            "max_tokens": max_tokens,
        }
        url = f"{self.base_url}/chat/completions"
        try:
            resp = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise LLMError(f"the LLM endpoint did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise LLMError(f"the LLM endpoint is unreachable ({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise LLMError(f"the LLM endpoint answered HTTP {resp.status_code}")
        try:
            content = resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError("the LLM endpoint's answer is not a chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError("the LLM endpoint gave an empty reply")
        return content.strip()


def build_prompt(
    *,
    language: str,
    emotion: str,
    intensity: float,
    risk: float,
    decisions: Sequence[str],
    reasons: Sequence[str],
    history: Sequence[tuple[str, str]],
    faq_answer: str | None,
) -> list[dict[str, str]]:
    """Chat messages asking for one agent reply that fits the emotion and the policy."""
    lang = LANGUAGE_NAMES.get(language, "English")
    system = (
        "You are a customer-service agent of an online shop. "
        f"Write one short reply (at most 3 sentences) in {lang}. "
        f"The customer's detected emotion is {emotion} (intensity {intensity:.2f}); "
        f"escalation risk is {risk:.2f}. "
        f"Policy decisions for this turn: {', '.join(decisions) or 'none'}"
        + (f" (because: {'; '.join(reasons)})" if reasons else "")
        + ". Open with empathy that fits the emotion, follow the decisions "
        "(e.g. say a senior colleague takes over for escalate_to_senior), "
        "never invent order details."
    )
    if faq_answer:
        system += f" Relevant FAQ answer you may use: {faq_answer}"
    messages = [{"role": "system", "content": system}]
    for role, text in history:
        messages.append({"role": "user" if role == "customer" else "assistant", "content": text})
    return messages
