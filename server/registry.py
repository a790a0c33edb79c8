"""Lazy backend registries: a setting's URL scheme names the module that builds that part.

fsspec's shape: each part keeps a map scheme → "module:factory" plus the hint to show when the
backend's extra is not installed; the module is imported only when a URL asks for it, so the
embedded defaults never import a cluster client. A new backend is one file plus one `register` line.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs

from server.errors import InvalidRequest, MiniflixError

T = TypeVar("T")
URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)(?:://(?P<location>[^?#\s]+)(?:\?(?P<query>[^#\s]*))?)?")


class BadSetting(InvalidRequest):
    """A backend setting names no usable backend; raised before any work starts."""


SECRET = re.compile(r"secret|password|token|key", re.IGNORECASE)


@dataclass(frozen=True)
class BackendUrl:
    """One parsed backend setting: `nats://h:p,h:p` → scheme `nats`, location `h:p,h:p`."""

    env: str
    raw: str
    scheme: str
    location: str = ""
    query: dict[str, str] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        """The setting as it may be shown to anyone (status bar, /api/health, logs): user info and
        secret-looking query values are masked."""
        location = re.sub(r"[^/@,]+@", "***@", self.location)
        query = [f"{k}={'***' if SECRET.search(k) else v}" for k, v in self.query.items()]
        where = f"://{location}" if location else ""
        return f"{self.scheme}{where}{'?' + '&'.join(query) if query else ''}"

    def error(self, problem: str, hint: str | None = None) -> BadSetting:
        """An error that names the setting and its value, for a factory to raise."""
        return BadSetting(f"{self.env}={self.raw!r}: {problem}", hint=hint)


@dataclass(frozen=True)
class Backend:
    """Where a backend's factory lives and what to install when its module cannot be imported."""

    target: str
    needs: str = ""
    bare: bool = False  # takes no location (the embedded backends live in the data dir)


class Registry(Generic[T]):
    """The backends of one part (origin, event log, executor), keyed by URL scheme."""

    def __init__(self, env: str) -> None:
        self.env = env
        self.backends: dict[str, Backend] = {}

    def register(self, scheme: str, target: str, needs: str = "", *, bare: bool = False) -> None:
        """Add (or replace) the backend for `scheme`; `target` is "module:factory", imported lazily.

        The factory is called as `factory(url: str, data: DataDir)` with the setting's value and
        returns the part;
        `needs` is the install hint shown when its module cannot be imported; a `bare` backend
        refuses a location."""
        if not URL.fullmatch(scheme) or ":" not in target:
            raise ValueError(f"register({scheme!r}, {target!r}): want a scheme and 'module:factory'")
        self.backends[scheme] = Backend(target, needs, bare)

    def parse(self, raw: str) -> BackendUrl:
        """The setting's URL, or `BadSetting` if it is malformed or its scheme is unknown."""
        match = URL.fullmatch(raw.strip())
        if match is None:
            raise BadSetting(f"{self.env}={raw!r}: not a backend URL.",
                             hint=f"use SCHEME or SCHEME://LOCATION; known schemes: {self.known()}")
        url = BackendUrl(self.env, raw, match["scheme"], match["location"] or "",
                         {k: v[-1] for k, v in parse_qs(match["query"] or "").items()})
        if url.scheme not in self.backends:
            raise url.error(f"unknown scheme {url.scheme!r}; known: {self.known()}")
        if self.backends[url.scheme].bare and (url.location or url.query):
            raise url.error(f"the {url.scheme} backend takes no location",
                            hint=f"set it to just {url.scheme!r}")
        return url

    def factory(self, url: BackendUrl) -> Callable[..., T]:
        """Import the module of `url`'s backend now; a missing module or extra is a `BadSetting`."""
        backend = self.backends[url.scheme]
        module_name, _, name = backend.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise url.error(f"the {url.scheme} backend is not available in this build ({exc})",
                            hint=f"needs {backend.needs}" if backend.needs else None) from None
        built: Callable[..., T] = getattr(module, name)
        return built

    def is_bare(self, url: BackendUrl) -> bool:
        return self.backends[url.scheme].bare

    def known(self) -> str:
        return ", ".join(f"{s} (needs {b.needs})" if b.needs else s for s, b in self.backends.items())


def build(url: BackendUrl, factory: Callable[..., T], bare: bool, *args: Any) -> T:
    """`factory(url.raw, *args)`; a cluster backend's own error (bad address, unreachable server,
    wrong credentials) becomes a `BadSetting` that names the setting."""
    try:
        return factory(url.raw, *args)
    except BadSetting:
        raise
    except MiniflixError as exc:
        if bare:
            raise
        raise url.error(exc.message, hint=exc.hint) from exc
