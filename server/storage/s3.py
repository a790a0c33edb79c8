"""The origin on S3 (`origin = s3://BUCKET?endpoint=http://host:port`), through boto3.

S3 has no rename, so a title is published by a pointer written last: its files are uploaded under
a fresh generation, `videos/<id>/@<generation>/…`, then one small pointer object
`.pointers/videos/<id>` names that generation with every object's size and ETag. Readers resolve
`videos/<id>/<rest>` through the pointer (cached for `POINTER_TTL_S`, so a republish is seen within
it), so they see the old title or the new one, never half of either; the generation objects are
never addressable by key. Delete moves the pointer to `.trash/<token>` (restore puts it back); a
replaced generation is deleted after the flip, and `discard_stale_staging` collects what a killed
or failed publish left. Credentials come the way boto3 reads them (`AWS_ACCESS_KEY_ID` /
`AWS_SECRET_ACCESS_KEY`, a profile, …); the URL carries none.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from server.errors import Forbidden, InvalidRequest, NotFound
from server.storage.blobstore import (
    TITLE_PREFIX,
    BlobStat,
    StoreUnavailable,
    copy_to_file,
    safe_key,
    span,
)
from server.storage.s3_client import S3Client, S3Reader

log = logging.getLogger(__name__)

POINTERS = ".pointers"
TRASH = ".trash"
POINTER_TTL_S = 1.0          # how long a reader trusts a pointer it fetched (a republish shows after it)
DEFAULT_TRASH_AGE_S = 7 * 86400
UPLOAD_WORKERS = 8           # a title is many small segments: uploads overlap their round trips


@dataclass(frozen=True)
class Manifest:
    """What a pointer says: the live generation of one title and each object's size and ETag."""

    prefix: str
    generation: str
    published_at: float
    objects: dict[str, tuple[int, str]] = field(default_factory=dict)   # rel → (size, etag)

    def physical(self, rel: str) -> str:
        return f"{self.prefix}/{self.generation}/{rel}"

    def to_json(self) -> bytes:
        return json.dumps({"prefix": self.prefix, "generation": self.generation,
                           "published_at": self.published_at,
                           "objects": {k: list(v) for k, v in self.objects.items()}}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        doc = json.loads(raw)
        return cls(doc["prefix"], doc["generation"], float(doc["published_at"]),
                   {k: (int(v[0]), str(v[1])) for k, v in doc["objects"].items()})


def title_split(key: str) -> tuple[str, str] | None:
    """`videos/<id>/<rest>` → (`videos/<id>`, `<rest>`); None for a key outside any title."""
    parts = key.split("/", 2)
    if parts[0] != TITLE_PREFIX or len(parts) < 2:
        return None
    return f"{parts[0]}/{parts[1]}", parts[2] if len(parts) == 3 else ""


def title_key(prefix: str) -> str:
    """A title's prefix, checked: staging, trash and restore work on whole titles only."""
    key = safe_key(prefix)
    split = title_split(key)
    if split is None or split[1]:
        raise InvalidRequest(f"{prefix!r} is not a title prefix (want `{TITLE_PREFIX}/<id>`).")
    return key


class S3BlobStore:
    """The blob store protocol on one S3 bucket (see the module docstring for the layout)."""

    def __init__(self, client: S3Client, pointer_ttl_s: float = POINTER_TTL_S) -> None:
        self.s3 = client
        self.pointer_ttl_s = pointer_ttl_s
        self._pointers: dict[str, tuple[float, Manifest | None]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3BlobStore({self.s3.describe()})"

    # ---- reads ----------------------------------------------------------------------------
    def stat(self, key: str) -> BlobStat:
        key = safe_key(key)
        manifest, rel = self._resolve(key)
        if manifest is None:
            return self.s3.head(key, key)
        if rel not in manifest.objects:
            raise NotFound(f"No object {key!r} in the origin.")
        size, etag = manifest.objects[rel]
        return BlobStat(key, size, manifest.published_at, etag)

    def open(self, key: str, start: int = 0, length: int | None = None) -> S3Reader | BytesIO:
        """The object's bytes from `start` (`length` at most), fetched as one Range GET."""
        stat = self.stat(key)
        start, length = span(stat.size, start, length)
        if length == 0:
            return BytesIO(b"")
        return self.s3.get(self._physical(stat.key), stat.key, start, length)

    def read(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    def address(self) -> str:
        """The `origin` setting that opens this same bucket in another process (a Dask worker,
        which brings its own credentials): `s3://BUCKET?endpoint=…&region=…`."""
        return self.s3.url()

    def read_url(self, key: str, expires_s: float) -> str | None:
        """A presigned GET of the object `key` (title keys resolved through their pointer) that
        any HTTP client, ffmpeg among them, can read and seek in with Range for `expires_s`."""
        stat = self.stat(key)
        return self.s3.presigned_get(self._physical(stat.key), expires_s)

    def put_file(self, key: str, local: Path) -> None:
        """Upload `local` as `key` (multipart when big, retried); a title's key joins its pointer."""
        key = safe_key(key)
        if title_split(key) is not None:
            with Path(local).open("rb") as data:
                self.put(key, data)
            return
        self.s3.upload(Path(local), key)

    def get_file(self, key: str, target: Path) -> None:
        """Download the object `key` into `target`, which appears whole or not at all."""
        copy_to_file(self.open(key), target)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except (NotFound, Forbidden):
            return False
        return True

    def list(self, prefix: str) -> Iterator[str]:
        prefix = safe_key(prefix)
        if prefix == TITLE_PREFIX:
            for pointer in self.s3.keys(f"{POINTERS}/{TITLE_PREFIX}/"):
                yield from self.list(pointer.removeprefix(f"{POINTERS}/"))
            return
        split = title_split(prefix)
        if split is None:
            yield from (k for k in self.s3.keys(prefix + "/") if _visible(k))
            return
        manifest = self._manifest(split[0])
        for rel in sorted(manifest.objects if manifest else ()):
            if not split[1] or rel == split[1] or rel.startswith(split[1] + "/"):
                yield f"{split[0]}/{rel}"

    def size(self, prefix: str) -> int:
        return sum(self.stat(key).size for key in self.list(prefix))

    # ---- writes ---------------------------------------------------------------------------
    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """One object; inside a published title it joins the live generation (pointer rewritten)."""
        key = safe_key(key)
        split = title_split(key)
        if split is None or not split[1]:
            self.s3.put(key, data)
            return
        prefix, rel = split
        old = self._manifest(prefix, fresh=True)
        manifest = old or Manifest(prefix, new_generation(), time.time())
        etag = self.s3.put(manifest.physical(rel), data)
        size = self.s3.head(manifest.physical(rel), key).size
        self._write_pointer(Manifest(prefix, manifest.generation, time.time(),
                                     {**manifest.objects, rel: (size, etag)}))

    def delete(self, prefix: str) -> int:
        """Remove every object under `prefix` (scratch such as `work/<job>`); a title is refused:
        it goes to the trash, so a delete can be undone."""
        prefix = safe_key(prefix)
        if title_split(prefix) is not None or prefix == TITLE_PREFIX:
            raise InvalidRequest(f"Refused to delete {prefix!r}: titles go to the trash (`trash`).")
        keys = list(self.s3.keys(prefix + "/"))
        self.s3.delete(keys)
        return len(keys)

    def stage(self, prefix: str) -> S3Staging:
        return S3Staging(self, title_key(prefix))

    def trash(self, prefix: str) -> str:
        prefix = title_key(prefix)
        manifest = self._manifest(prefix, fresh=True)
        if manifest is None:
            raise NotFound(f"Nothing published at {prefix!r}.")
        token = f"{int(time.time())}-{uuid.uuid4().hex[:8]}"
        self.s3.put(f"{TRASH}/{token}", manifest.to_json())
        self.s3.delete([_pointer(prefix)])
        self._remember(prefix, None)
        return token

    def restore(self, token: str, prefix: str) -> None:
        prefix = title_key(prefix)
        trashed = f"{TRASH}/{safe_key(token)}"
        try:
            manifest = Manifest.from_json(self.s3.read(trashed, token))
        except NotFound:
            raise NotFound(f"Nothing in the trash under {token!r}; it may have been purged.") from None
        if self._manifest(prefix, fresh=True) is not None:
            raise Forbidden(f"Cannot restore over {prefix!r}: something is published there.")
        self._write_pointer(Manifest(prefix, manifest.generation, manifest.published_at, manifest.objects))
        self.s3.delete([trashed])

    def purge_trash(self, older_than_s: float = DEFAULT_TRASH_AGE_S) -> int:
        """Delete trashed titles (their generation objects too) older than `older_than_s`."""
        cutoff, count = time.time() - older_than_s, 0
        for key, modified in self.s3.listing(f"{TRASH}/"):
            if modified < cutoff:
                manifest = Manifest.from_json(self.s3.read(key, key))
                self.s3.delete(list(self.s3.keys(f"{manifest.prefix}/{manifest.generation}/")))
                self.s3.delete([key])
                count += 1
        return count

    def discard_stale_staging(self, in_use: Callable[[str], bool]) -> tuple[str, ...]:
        """Delete the generations that no pointer and no trashed title names, of titles no build is
        using (`in_use(video_id)` False): what a killed, failed or replaced publish left."""
        kept = {(m.prefix, m.generation) for m in self._all_manifests()}
        gone: list[str] = []
        for title in self.s3.folders(f"{TITLE_PREFIX}/"):
            video_id = title.rstrip("/").rsplit("/", 1)[-1]
            if in_use(video_id):
                continue
            for folder in self.s3.folders(title):
                generation = folder.rstrip("/").rsplit("/", 1)[-1]
                if generation.startswith("@") and (title.rstrip("/"), generation) not in kept:
                    self.s3.delete(list(self.s3.keys(folder)))
                    gone.append(video_id)
        return tuple(dict.fromkeys(gone))

    # ---- pointers -------------------------------------------------------------------------
    def _resolve(self, key: str) -> tuple[Manifest | None, str]:
        """The manifest of `key`'s title and its name inside it; (None, key) outside any title."""
        split = title_split(key)
        if split is None:
            return None, key
        manifest = self._manifest(split[0])
        if manifest is None:
            raise NotFound(f"No object {key!r} in the origin.")
        return manifest, split[1]

    def _physical(self, key: str) -> str:
        manifest, rel = self._resolve(key)
        return manifest.physical(rel) if manifest is not None else key

    def _manifest(self, prefix: str, fresh: bool = False) -> Manifest | None:
        """The pointer of `prefix` (None when nothing is published), cached `pointer_ttl_s`."""
        with self._lock:
            cached = self._pointers.get(prefix)
        if cached is not None and not fresh and time.monotonic() - cached[0] < self.pointer_ttl_s:
            return cached[1]
        try:
            manifest: Manifest | None = Manifest.from_json(self.s3.read(_pointer(prefix), prefix))
        except NotFound:
            manifest = None
        self._remember(prefix, manifest)
        return manifest

    def _remember(self, prefix: str, manifest: Manifest | None) -> None:
        with self._lock:
            self._pointers[prefix] = (time.monotonic(), manifest)

    def _write_pointer(self, manifest: Manifest) -> None:
        self.s3.put(_pointer(manifest.prefix), manifest.to_json())
        self._remember(manifest.prefix, manifest)

    def _all_manifests(self) -> Iterator[Manifest]:
        for key in self.s3.keys(f"{POINTERS}/"):
            yield Manifest.from_json(self.s3.read(key, key))
        for key in self.s3.keys(f"{TRASH}/"):
            yield Manifest.from_json(self.s3.read(key, key))


class S3Staging:
    """One publish of a title: files go up under a new generation, `UPLOAD_WORKERS` at a time
    (multipart for big ones, with retries), each checked against the bucket (size) once up;
    `commit` waits for them all and then writes the pointer, last."""

    def __init__(self, store: S3BlobStore, prefix: str) -> None:
        self.store, self.prefix = store, prefix
        self.generation = new_generation()
        self._pool = ThreadPoolExecutor(UPLOAD_WORKERS, thread_name_prefix="s3-upload")
        self._uploads: dict[str, Future[tuple[int, str]]] = {}

    def add_file(self, rel: str, local: Path) -> None:
        """Start uploading `local` as `rel`; a failure surfaces at `commit`."""
        rel = safe_key(rel)
        self._uploads[rel] = self._pool.submit(self._upload, rel, local, local.stat().st_size)

    def commit(self) -> None:
        """Wait for every upload, flip the pointer, then drop the replaced generation."""
        try:
            objects = {rel: upload.result() for rel, upload in self._uploads.items()}
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        old = self.store._manifest(self.prefix, fresh=True)
        self.store._write_pointer(Manifest(self.prefix, self.generation, time.time(), objects))
        if old is not None and old.generation != self.generation:
            self._drop(old.generation)

    def abort(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._drop(self.generation)

    def _upload(self, rel: str, local: Path, size: int) -> tuple[int, str]:
        key = f"{self.prefix}/{self.generation}/{rel}"
        self.store.s3.upload(local, key)
        stat = self.store.s3.head(key, f"{self.prefix}/{rel}")
        if stat.size != size:
            raise StoreUnavailable(f"{self.prefix}/{rel} is {stat.size} bytes in the bucket, not {size}.",
                                   hint="run the ingest again")
        return size, stat.etag

    def _drop(self, generation: str) -> None:
        """Best effort: a generation left behind is collected by `discard_stale_staging`."""
        try:
            self.store.s3.delete(list(self.store.s3.keys(f"{self.prefix}/{generation}/")))
        except StoreUnavailable as exc:
            log.warning("could not delete %s/%s yet: %s", self.prefix, generation, exc)


def new_generation() -> str:
    return time.strftime("@%Y%m%dT%H%M%S", time.gmtime()) + f"-{uuid.uuid4().hex[:8]}"


def _pointer(prefix: str) -> str:
    return f"{POINTERS}/{prefix}"


def _visible(key: str) -> bool:
    return not any(p.startswith((".", "@")) for p in key.split("/"))


def open_s3_origin(url: str, data: Any) -> S3BlobStore:
    """The `s3` origin backend: checks the bucket once (a cheap HEAD) so a wrong endpoint,
    credentials or bucket is refused at start-up, naming the setting, before any work."""
    client = S3Client.from_url(url)
    client.check_bucket()
    return S3BlobStore(client)
