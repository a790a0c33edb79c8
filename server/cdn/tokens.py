"""Signed, expiring edge URLs: an HMAC token that sits in the path, so relative segment URIs keep it.

URL shape: `http://127.0.0.1:<edge port>/t/<token>/videos/<id>/master.m3u8`. The token binds one
video id and an expiry time; the key lives in the data dir, readable by its owner only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time

from server.errors import Forbidden, InvalidRequest
from server.paths import DataDir

KEY_FILE = "edge.key"
KEY_BYTES = 32
MAC_BYTES = 18
MAX_EXPIRY = 16**12 - 1         # ~8.9 million years: 12 hex digits are plenty
# canonical (no leading zeros; 18 MAC bytes are exactly 24 base64url characters): one spelling per token
TOKEN = re.compile(r"(0|[1-9a-f][0-9a-f]{0,11})\.([A-Za-z0-9_-]{24})", re.ASCII)


class Signer:
    """Makes and checks tokens of the form `<expiry, hex>.<mac, base64url>`."""

    shape, base = TOKEN, 16          # a token's pattern, and the base its expiry is written in

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise InvalidRequest("The edge signing key is too short (need at least 16 bytes).")
        self._key = key

    def sign(self, video_id: str, expires_at: int) -> str:
        expires_at = int(expires_at)
        if not 0 <= expires_at <= MAX_EXPIRY:
            raise InvalidRequest(f"A link cannot expire at {expires_at} (0..{MAX_EXPIRY} s since 1970).")
        expiry = f"{expires_at:x}" if self.base == 16 else str(expires_at)
        return f"{expiry}.{self._mac(video_id, expires_at)}"

    def verify(self, token: str, video_id: str, now: float | None = None) -> int:
        """The token's expiry if it is genuine for `video_id` and not expired; Forbidden otherwise
        (any string at all gets an answer: the shape is checked before anything is computed)."""
        found = self.shape.fullmatch(token)
        if found is None:
            raise Forbidden("The link's token is malformed.", hint="ask the steering service for a new link")
        expires_at = int(found[1], self.base)
        if not hmac.compare_digest(found[2], self._mac(video_id, expires_at)):
            raise Forbidden("The link's token does not match this title.",
                            hint="ask the steering service for a new link")
        if (time.time() if now is None else now) >= expires_at:
            raise Forbidden("The link has expired.", hint="ask the steering service for a new link")
        return expires_at

    def _mac(self, video_id: str, expires_at: int) -> str:
        message = f"{video_id}\n{expires_at}".encode("utf-8", "surrogatepass")
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode()


def load_or_create_key(data: DataDir) -> bytes:
    """The edge signing key from `keys/edge.key`, created (mode 0600) on first use."""
    path = data.keys / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        key = path.read_bytes()
        if len(key) < 16:
            raise InvalidRequest(f"The edge key {path} is damaged (too short).",
                                 hint="delete it; a new one is made and old links stop working") from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


NGINX_TOKEN = re.compile(r"(0|[1-9][0-9]{0,14})\.([A-Za-z0-9_-]{22})", re.ASCII)


class NginxSigner(Signer):
    """Tokens nginx's `secure_link` module checks with no Python per request:
    `<expiry, decimal>.<base64url md5 of "<expiry><video id> <secret>">` (no padding).

    Weaker than the HMAC scheme: md5 of a secret-suffixed string is a plain keyed hash (open to
    length extension, and md5's collisions) and the 128-bit digest is short. That is acceptable here:
    the edges only listen on 127.0.0.1 of the user's own machine, the token guards against stale and
    cross-title links (the behaviour a CDN has), not a determined attacker, and the secret is derived
    from the edge key, so it rotates with it. Same URL shape (`/t/<token>/videos/<id>/…`)."""

    shape, base = NGINX_TOKEN, 10

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        # text-safe for an nginx config file; the raw key never leaves this process
        self.secret = hmac.new(key, b"nginx secure_link", hashlib.sha256).hexdigest()

    def _mac(self, video_id: str, expires_at: int) -> str:
        message = f"{expires_at}{video_id} {self.secret}".encode("utf-8", "surrogatepass")
        return base64.urlsafe_b64encode(hashlib.md5(message).digest()).decode().rstrip("=")
