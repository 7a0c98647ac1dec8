"""Credentials never leave the process: URL passwords and secret query values are masked.

Settings such as `tune.storage`, `tracking.uri`, `synthesize.strong.endpoint` and
`generator.base_url` may carry credentials (`postgresql://user:password@host/db`,
`https://host/v1?api_key=...`). Everything that reaches MLflow (params, tags, artifacts) or an
error message passes through `redact_url` / `redact_params` first:

    postgresql+psycopg2://user:s3cr3t@host:5432/db  ->  postgresql+psycopg2://user:***@host:5432/db
    https://ghp_0123456789abcdefghij@github.com/x   ->  https://***@github.com/x
    https://host/v1?api_key=sk-123&model=m           ->  https://host/v1?api_key=***&model=m

The userinfo rule follows SQLAlchemy's URL parser, the most permissive one these settings meet:
the user name holds no ':', '/' or '@', and the password runs to the last '@' of the URL, so a
password with an unencoded '/', '?' or '@' is masked whole. (The price: a credential-free URL
with a port and an '@' further on, `http://host:8080/u/me@x`, is masked too; safe, if ugly.)
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

MASK = "***"

# scheme://rest, where rest runs to whitespace, a quote or an angle bracket (URLs inside messages,
# JSON, YAML or HTML).
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>[^\s'\"<>`]+)")
# user:password@ (password to the last '@') or user@ (user before the first '/', '?' or '#').
_USER_PASSWORD = re.compile(r"(?P<user>[^:/?#@]*):(?P<password>.*)@")
_USER_ONLY = re.compile(r"(?P<user>[^:/?#@]+)@")
# name=value in a query string (after '?', '&' or ';').
_QUERY_PAIR = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&;#?]+)=(?P<value>[^&;#]*)")

_SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "auth",
        "authorization",
        "sig",
        "signature",
        "credential",
        "credentials",
    }
)
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "_key", "-key", "apikey")


def is_secret_name(name: str) -> bool:
    """A query or settings key whose value is a secret (password, api_key, access_token, ...)."""
    lowered = name.strip().lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def looks_like_token(user: str) -> bool:
    """A user-only userinfo that is a token (https://TOKEN@host): 20+ characters, letters and digits."""
    return len(user) >= 20 and any(c.isdigit() for c in user) and any(c.isalpha() for c in user)


def redact_url(text: str) -> str:
    """`text` with every URL's password, token user and secret query values replaced by `***`.

    Works on a bare URL or on any text that contains URLs (a message, a YAML file); text without a
    credential-carrying URL is returned unchanged.
    """
    return _URL.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    rest = _mask_userinfo(match.group("rest"))
    return f"{match.group('scheme')}://{_mask_query(rest)}"


def _mask_userinfo(rest: str) -> str:
    with_password = _USER_PASSWORD.match(rest)
    if with_password:
        return f"{with_password.group('user')}:{MASK}@{rest[with_password.end() :]}"
    user_only = _USER_ONLY.match(rest)
    if user_only and looks_like_token(unquote(user_only.group("user"))):
        return f"{MASK}@{rest[user_only.end() :]}"
    return rest


def _mask_query(rest: str) -> str:
    if "?" not in rest and ";" not in rest:
        return rest

    def mask(pair: re.Match[str]) -> str:
        if not is_secret_name(unquote(pair.group("name"))) or not pair.group("value"):
            return pair.group(0)
        return f"{pair.group('sep')}{pair.group('name')}={MASK}"

    return _QUERY_PAIR.sub(mask, rest)


def url_secrets(url: str) -> list[str]:
    """The secrets `redact_url` hides in `url`, raw and percent-decoded (to scrub library messages)."""
    found: list[str] = []
    for match in _URL.finditer(url):
        rest = match.group("rest")
        with_password = _USER_PASSWORD.match(rest)
        user_only = _USER_ONLY.match(rest)
        if with_password and with_password.group("password"):
            found.append(with_password.group("password"))
        elif user_only and looks_like_token(unquote(user_only.group("user"))):
            found.append(user_only.group("user"))
        for pair in _QUERY_PAIR.finditer(rest):
            if is_secret_name(unquote(pair.group("name"))) and pair.group("value"):
                found.append(pair.group("value"))
    decoded = [unquote(secret) for secret in found]
    return sorted({s for s in found + decoded if s}, key=len, reverse=True)


def redact_message(text: str, *urls: str) -> str:
    """An error message made safe to print: its URLs redacted, and any secret of `urls` that a
    library quoted on its own (a driver echoing the password) replaced by `***`."""
    redacted = redact_url(text)
    for url in urls:
        for secret in url_secrets(url):
            redacted = redacted.replace(secret, MASK)
    return redacted


def redact_params(params: dict[str, Any]) -> dict[str, Any]:
    """A copy of nested params (dicts, lists, tuples) with every string passed through
    `redact_url`, and the non-empty string value of a secret-named key (password, api_key,
    token...) replaced by `***`."""
    return {key: _redact_value(value, secret=is_secret_name(str(key))) for key, value in params.items()}


def _redact_value(value: Any, secret: bool = False) -> Any:
    if isinstance(value, str):
        return MASK if secret and value else redact_url(value)
    if isinstance(value, dict):
        return redact_params(value)
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item, secret) for item in value)
    return value
