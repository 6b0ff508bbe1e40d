"""The dashboard's login cookie.

It carries the API key the user signed in with (HttpOnly, SameSite=Strict);
the service accepts it like the ``X-API-Key`` header. It is defined here, with
the login that sets it, and the service imports it (never the other way).
"""

from __future__ import annotations

#: Name of the cookie set by ``POST /login``.
SESSION_COOKIE = "emotiondesk_key"
