"""Signed, expiring edge URLs: an HMAC token that sits in the path, so relative segment URIs keep it.

URL shape: `http://127.0.0.1:<edge port>/t/<token>/videos/<id>/master.m3u8`. The token binds one
video id and an expiry time; the key lives in the data dir, readable by its owner only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time

from server.errors import Forbidden, InvalidRequest
from server.paths import DataDir

KEY_FILE = "edge.key"
KEY_BYTES = 32


class Signer:
    """Makes and checks tokens of the form `<expiry, hex>.<mac, base64url>`."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise InvalidRequest("The edge signing key is too short (need at least 16 bytes).")
        self._key = key

    def sign(self, video_id: str, expires_at: int) -> str:
        return f"{int(expires_at):x}.{self._mac(video_id, int(expires_at))}"

    def verify(self, token: str, video_id: str, now: float | None = None) -> int:
        """The token's expiry if it is genuine for `video_id` and not expired; Forbidden otherwise."""
        expiry_hex, _, mac = token.partition(".")
        try:
            expires_at = int(expiry_hex, 16)
        except ValueError:
            raise Forbidden("The link's token is malformed.",
                            hint="ask the steering service for a new link") from None
        if not hmac.compare_digest(mac, self._mac(video_id, expires_at)):
            raise Forbidden("The link's token does not match this title.",
                            hint="ask the steering service for a new link")
        if (time.time() if now is None else now) >= expires_at:
            raise Forbidden("The link has expired.", hint="ask the steering service for a new link")
        return expires_at

    def _mac(self, video_id: str, expires_at: int) -> str:
        digest = hmac.new(self._key, f"{video_id}\n{expires_at}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()


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
