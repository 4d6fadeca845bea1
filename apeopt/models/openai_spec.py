"""Parse ``openai:<model>@<base_url>[?option=value&...]`` specs (stdlib only, no network).

Options: ``key_env`` (environment variable holding the API key, default OPENAI_API_KEY),
``timeout`` (seconds per request), ``retries`` (retries after the first attempt), ``rps``
(requests per second, 0 = unlimited) and ``concurrency`` (parallel requests per batch).
The key itself is never accepted in a spec, so it cannot end up in run files or cache keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from apeopt.errors import UserError

FORM = "openai:<model>@<base_url>"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_SPEC = re.compile(r"^openai:(?P<model>.*?)@(?P<url>https?://.*)$", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_WORDS = ("key", "token", "secret", "password", "auth")


@dataclass(frozen=True)
class OpenAISpec:
    """A parsed remote-model spec; ``spec`` is canonical (options sorted, defaults omitted)."""

    model: str
    base_url: str
    key_env: str = DEFAULT_KEY_ENV
    timeout: float = 120.0
    retries: int = 8
    rps: float = 0.0
    concurrency: int = 8

    @property
    def identity(self) -> str:
        """The cache identity: model and endpoint, never transport options or keys."""
        return f"openai:{self.model}@{self.base_url}"

    @property
    def spec(self) -> str:
        defaults = OpenAISpec(self.model, self.base_url)
        opts = [
            f"{name}={_fmt(getattr(self, name))}" for name in _OPTIONS if getattr(self, name) != getattr(defaults, name)
        ]
        return self.identity + ("?" + "&".join(opts) if opts else "")


_OPTIONS: dict[str, type] = {"concurrency": int, "key_env": str, "retries": int, "rps": float, "timeout": float}


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_openai_spec(text: str, valid: str = FORM) -> OpenAISpec:
    """Parse ``text``; every mistake is a one-line UserError that ends with ``valid``."""
    m = _SPEC.match(text.strip())
    if not m:
        raise UserError(f"remote model spec must look like {FORM} (base_url starting http:// or https://); {valid}")
    model = m.group("model").strip()
    if not model:
        raise UserError(f"remote model spec has an empty model name; {valid}")
    parts = urlsplit(m.group("url"))
    if parts.username or parts.password:
        raise UserError(
            "remote model spec: credentials are not accepted in the URL; put the API key in "
            f"an environment variable and name it with ?key_env=NAME; {valid}"
        )
    if not parts.hostname:
        raise UserError(f"remote model spec: base_url {m.group('url')!r} has no host; {valid}")
    base = urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))
    values: dict[str, object] = {}
    for name, raw in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _OPTIONS:
            if any(w in name.lower() for w in _SECRET_WORDS):  # never echo what may be a key
                raise UserError(
                    "remote model spec: API keys are not accepted in specs; put the key in an "
                    f"environment variable and name it with ?key_env=NAME; {valid}"
                )
            raise UserError(f"remote model spec: unknown option {name!r}; options: {', '.join(_OPTIONS)}; {valid}")
        values[name] = _option(name, raw, valid)
    return OpenAISpec(model, base, **values)  # type: ignore[arg-type]


def _option(name: str, raw: str, valid: str) -> object:
    if name == "key_env":
        if not _ENV_NAME.match(raw):
            raise UserError(
                f"remote model spec: key_env must name an environment variable "
                f"(letters, digits, _), got a value that is not one; {valid}"
            )
        return raw
    kind = _OPTIONS[name]
    try:
        value = kind(raw)
    except ValueError:
        raise UserError(f"remote model spec: option {name} must be a number, got {raw!r}; {valid}") from None
    low = 1 if name == "concurrency" else 0
    if value < low or (name == "timeout" and value <= 0):
        raise UserError(
            f"remote model spec: option {name} must be {'>' if name == 'timeout' else '>='} {low}, got {raw!r}; {valid}"
        )
    return value
