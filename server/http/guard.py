"""Checks every request passes before a route runs, and the CORS headers media responses carry.

The server binds loopback only, but a browser on the same machine is a client too: a page on any
site can send it requests (CSRF), and a page whose name rebinds to 127.0.0.1 can read its answers
(DNS rebinding). So, in this order:

- a URL path over `MAX_PATH` characters (or a query over `MAX_QUERY`) is 414;
- `Host` must be a loopback name (any port) or one of `allowed_hosts`, else 421;
- with `api_token` set, every `/api/` request needs `Authorization: Bearer <token>`, else 401;
- a state-changing request (POST/PUT/PATCH/DELETE) with an `Origin` other than the server's own
  is 403; no `Origin` (curl, the studio, the CLI) is fine, browsers always send one cross-site;
- a state-changing request's `Content-Type` must be JSON (uploads: raw bytes or a multipart
  form), else 415: a cross-site `<form>` can only send form or text types.

Media GETs (`/origin`, `/play`, `/steer`, `/steering`, `/route`) are readable from any origin, like
a CDN's, so a player page served elsewhere can use them; the API stays same-origin.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Flask, Response, current_app, request

from server import config
from server.http.errors import error_body

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MEDIA_PREFIXES = ("/origin/", "/play/", "/steer/", "/steering/", "/route/")
UPLOAD_PATH = "/api/uploads"
UPLOAD_TYPES = ("application/octet-stream", "multipart/form-data")
MAX_PATH = 2048
MAX_QUERY = 8192
CORS_EXPOSE = "Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified, X-Edge"
CORS_REQUEST_HEADERS = "Range, If-Range, If-None-Match, If-Modified-Since"
CORS_MAX_AGE_S = "600"

Refusal = tuple[Response, int]


def init_app(app: Flask) -> None:
    """Read the settings once (tests override them in `app.config`) and register the hooks."""
    app.config.setdefault("ALLOWED_HOSTS", split_hosts(config.get("allowed_hosts")))
    app.config.setdefault("API_TOKEN", config.get("api_token"))
    app.before_request(check_request)
    app.after_request(add_cors)


def split_hosts(raw: str) -> tuple[str, ...]:
    """`"studio.lan, Example.org."` → `("studio.lan", "example.org")`."""
    return tuple(name for name in (_normal(part) for part in raw.split(",")) if name)


def check_request() -> Refusal | None:
    """The first refusal that applies to this request, or None to let the route run."""
    for check in (_check_size, _check_host, _check_token, _check_origin, _check_content_type):
        refusal = check()
        if refusal is not None:
            return refusal
    return None


def add_cors(response: Response) -> Response:
    """Media answers (errors too, so a player sees 404 rather than "status 0") to any origin."""
    if request.path.startswith(MEDIA_PREFIXES) and request.method in ("GET", "HEAD", "OPTIONS"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = CORS_REQUEST_HEADERS
            response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE_S
    return response


def host_name(host: str) -> str | None:
    """The name in a `Host` header (`[::1]:8080` → `::1`), or None when it is malformed."""
    name, port = host, ""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif host.count(":") == 1:
        name, port = host.split(":")
    if port and not (port.isascii() and port.isdigit()):
        return None
    return _normal(name) or None


def is_loopback_name(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _normal(name: str) -> str:
    return name.strip().lower().rstrip(".")


def _check_size() -> Refusal | None:
    if len(request.path) > MAX_PATH or len(request.query_string) > MAX_QUERY:
        return error_body("UriTooLong", f"The URL is too long (path at most {MAX_PATH} characters, "
                          f"query at most {MAX_QUERY}).", "Object keys and ids are short; check the URL.",
                          414)
    return None


def _check_host() -> Refusal | None:
    host = request.headers.get("Host")
    if host is None:  # HTTP/1.0 clients; every browser sends Host
        return None
    name = host_name(host)
    if name is not None and (is_loopback_name(name) or name in current_app.config["ALLOWED_HOSTS"]):
        return None
    return error_body("MisdirectedRequest", f"This server does not answer to the host {host[:100]!r}.",
                      "Use http://127.0.0.1:PORT, or add the name to MINIFLIX_ALLOWED_HOSTS.", 421)


def _check_token() -> Refusal | None:
    token = current_app.config.get("API_TOKEN") or ""
    if not token or not _is_api(request.path):
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    response, status = error_body("Unauthorized", "This server needs an API token for /api/ requests.",
                                  "Send `Authorization: Bearer <token>` (the studio sends "
                                  "MINIFLIX_API_TOKEN when it is set).", 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="miniflix"'
    return response, status


def _check_origin() -> Refusal | None:
    origin = request.headers.get("Origin")
    if request.method not in STATE_CHANGING or origin is None:
        return None
    own = f"{request.scheme}://{request.headers.get('Host', '')}"
    if origin.lower() == own.lower():
        return None
    return error_body("Forbidden", f"Refused a {request.method} from the web page origin {origin[:100]!r}: "
                      "changes are accepted only from this server's own pages or from clients that are not "
                      "browsers.", "Use the studio, the CLI or curl; the API is not open to other sites.",
                      403)


def _check_content_type() -> Refusal | None:
    if request.method not in STATE_CHANGING or not request.mimetype or _type_fits(request.path):
        return None
    wanted = "application/octet-stream, video/* or multipart/form-data" \
        if request.path == UPLOAD_PATH else "application/json"
    return error_body("UnsupportedMediaType", f"A {request.method} to {request.path[:200]} cannot carry "
                      f"{request.mimetype[:100]!r}.", f"Send Content-Type: {wanted}.", 415)


def _type_fits(path: str) -> bool:
    mimetype = request.mimetype
    if path == UPLOAD_PATH:
        return mimetype in UPLOAD_TYPES or mimetype.startswith("video/")
    return request.is_json


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")

