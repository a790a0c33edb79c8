"""The few S3 calls the S3 origin makes, through boto3, with S3's errors turned into ours.

A missing object is `NotFound`; a server that does not answer or fails is `StoreUnavailable` (an edge
then serves stale, an ingest fails and can be run again). Uploads are multipart above
`MULTIPART_BYTES` and retried with exponential backoff on top of botocore's own retries. The bucket
check at start-up says in words what is wrong with the setting: the endpoint, the credentials or
the bucket.
"""

from __future__ import annotations

import logging
import random
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from server.errors import MiniflixError, NotFound
from server.storage.blobstore import BlobStat, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

MULTIPART_BYTES = 8 * 1024 * 1024       # segments above this go up in parts (and parts in parallel)
UPLOAD_ATTEMPTS = 4                     # our retries of a whole upload, after botocore's own
BACKOFF_S = 0.25                        # first wait; doubles each attempt, with jitter
DELETE_BATCH = 1000                     # S3's limit per DeleteObjects call
MISSING = {"404", "NoSuchKey", "NotFound"}
REFUSED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
CREDENTIALS_HINT = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (`main.py cluster up` prints them)"


class S3Reader:
    """The body of a Range GET; a failure mid-stream is an `OSError`, as from any file."""

    def __init__(self, body: Any, shown: str) -> None:
        self._body, self._shown = body, shown

    def read(self, size: int = -1, /) -> bytes:
        try:
            return bytes(self._body.read(None if size is None or size < 0 else size))
        except (BotoCoreError, OSError, ValueError) as exc:
            raise OSError(f"reading {self._shown!r} from S3 failed: {exc}") from exc

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> S3Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class S3Client:
    """One bucket on one endpoint; every method maps S3's errors to ours."""

    def __init__(self, bucket: str, endpoint: str | None = None, region: str = "us-east-1",
                 attempts: int = 3) -> None:
        self.bucket, self.endpoint = bucket, endpoint
        config = Config(connect_timeout=2, read_timeout=15, max_pool_connections=16,
                        retries={"max_attempts": attempts, "mode": "standard"},
                        s3={"addressing_style": "path"})
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region,
                                                     config=config)
        self.transfer = TransferConfig(multipart_threshold=MULTIPART_BYTES,
                                       multipart_chunksize=MULTIPART_BYTES, max_concurrency=4)

    @classmethod
    def from_url(cls, url: str) -> S3Client:
        """`s3://BUCKET[?endpoint=http://host:port][&region=…]` (the `origin` setting)."""
        parts = urllib.parse.urlsplit(url.strip())
        query = dict(urllib.parse.parse_qsl(parts.query))
        bucket = parts.netloc
        if parts.scheme != "s3" or not bucket or parts.path not in ("", "/"):
            raise MiniflixError("want s3://BUCKET?endpoint=http://host:port",
                                hint="name the bucket; the endpoint defaults to AWS")
        unknown = set(query) - {"endpoint", "region"}
        if unknown:
            raise MiniflixError(f"unknown option(s) {', '.join(sorted(unknown))}; known: endpoint, region")
        return cls(bucket, query.get("endpoint") or None, query.get("region") or "us-east-1")

    def url(self) -> str:
        """The `origin` setting of this bucket: `s3://BUCKET?endpoint=…&region=…` (no credentials)."""
        query = {"endpoint": self.endpoint or "", "region": self.client.meta.region_name or ""}
        shown = urllib.parse.urlencode({k: v for k, v in query.items() if v})
        return f"s3://{self.bucket}{'?' + shown if shown else ''}"

    def presigned_get(self, key: str, expires_s: float) -> str:
        """A GET URL of `key` signed with this client's credentials, valid `expires_s` seconds."""
        return str(self._call(f"signing {key!r}", key, lambda: self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=max(1, int(expires_s)))))

    def describe(self) -> str:
        return f"bucket {self.bucket!r} at {self.endpoint or 'AWS'}"

    def check_bucket(self) -> None:
        """A cheap HEAD of the bucket, once, with no retries: what is wrong, in words."""
        probe = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=self.client.meta.region_name,
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1},
                          s3={"addressing_style": "path"}))
        try:
            probe.head_bucket(Bucket=self.bucket)
        except NoCredentialsError:
            raise MiniflixError("no S3 credentials found.", hint=CREDENTIALS_HINT) from None
        except ClientError as exc:
            raise _setting_error(self, _code(exc)) from None
        except BotoCoreError as exc:
            raise MiniflixError(f"cannot reach the S3 endpoint {self.endpoint or 'of AWS'} ({exc}).",
                                hint="start the S3 server (`main.py cluster up`) or fix ?endpoint=") from None

    # ---- objects --------------------------------------------------------------------------
    def head(self, key: str, shown: str) -> BlobStat:
        reply = self._call(f"reading {shown!r}", shown,
                           lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        return BlobStat(shown, int(reply["ContentLength"]), reply["LastModified"].timestamp(),
                        str(reply["ETag"]).strip('"'))

    def get(self, key: str, shown: str, start: int, length: int) -> S3Reader:
        asked = f"bytes={start}-{start + length - 1}"
        reply = self._call(f"reading {shown!r}", shown,
                           lambda: self.client.get_object(Bucket=self.bucket, Key=key, Range=asked))
        return S3Reader(reply["Body"], shown)

    def read(self, key: str, shown: str) -> bytes:
        reply = self._call(f"reading {shown!r}", shown,
                           lambda: self.client.get_object(Bucket=self.bucket, Key=key))
        with S3Reader(reply["Body"], shown) as body:
            try:
                return body.read()
            except OSError as exc:
                raise self._down(f"reading {shown!r}", exc) from exc

    def put(self, key: str, data: bytes | BinaryIO) -> str:
        """Write one small object whole; returns its ETag."""
        reply = self._call(f"writing {key!r}", key,
                           lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data))
        return str(reply["ETag"]).strip('"')

    def upload(self, local: Path, key: str) -> None:
        """Upload a file (multipart when big), retried with backoff; then it is in the bucket whole."""
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                self._upload_once(local, key)
                return
            except (BotoCoreError, ClientError, boto3.exceptions.S3UploadFailedError) as exc:
                if attempt == UPLOAD_ATTEMPTS - 1:
                    raise self._down(f"uploading {key!r}", exc) from exc
                wait = BACKOFF_S * 2 ** attempt * (1 + random.random())
                log.warning("upload of %s failed (%s); retrying in %.2f s", key, exc, wait)
                time.sleep(wait)

    def _upload_once(self, local: Path, key: str) -> None:
        """One PUT for a small file; boto3's transfer manager (parts in parallel) for a big one."""
        if local.stat().st_size < MULTIPART_BYTES:
            with local.open("rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        else:
            self.client.upload_file(str(local), self.bucket, key, Config=self.transfer)

    def delete(self, keys: list[str]) -> None:
        for i in range(0, len(keys), DELETE_BATCH):
            self._delete_batch(keys[i:i + DELETE_BATCH])

    def _delete_batch(self, keys: list[str]) -> None:
        batch = {"Objects": [{"Key": k} for k in keys], "Quiet": True}
        self._call("deleting objects", "",
                   lambda: self.client.delete_objects(Bucket=self.bucket, Delete=batch))

    # ---- listings -------------------------------------------------------------------------
    def listing(self, prefix: str) -> Iterator[tuple[str, float]]:
        """(key, last modified) of every object under `prefix`."""
        for page in self._pages(prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"]), item["LastModified"].timestamp()

    def keys(self, prefix: str) -> Iterator[str]:
        return (key for key, _ in self.listing(prefix))

    def folders(self, prefix: str) -> Iterator[str]:
        """The next level of "folders" under `prefix` (common prefixes, each ending in `/`)."""
        for page in self._pages(prefix, delimiter="/"):
            for item in page.get("CommonPrefixes", []):
                yield str(item["Prefix"])

    def _pages(self, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        extra = {"Delimiter": delimiter} if delimiter else {}
        pages = self._call(f"listing {prefix!r}", prefix,
                           lambda: iter(paginator.paginate(Bucket=self.bucket, Prefix=prefix, **extra)))
        while True:
            page = self._call(f"listing {prefix!r}", prefix, lambda: next(pages, None))
            if page is None:
                return
            yield page

    def _call(self, what: str, shown: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise NotFound(f"No object {shown!r} in the origin.") from None
            raise self._down(what, exc) from exc
        except BotoCoreError as exc:
            raise self._down(what, exc) from exc

    def _down(self, what: str, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"The S3 origin ({self.describe()}) failed {what}: {exc}",
                                hint="check that the S3 server is running; then try again")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _setting_error(client: S3Client, code: str) -> MiniflixError:
    if code in REFUSED:
        return MiniflixError(f"the S3 server refused these credentials for bucket {client.bucket!r}.",
                             hint=f"check them: {CREDENTIALS_HINT}")
    if code in MISSING | {"NoSuchBucket"}:
        return MiniflixError(f"bucket {client.bucket!r} does not exist at {client.endpoint or 'AWS'}.",
                             hint="create it first, or name an existing bucket")
    return MiniflixError(f"the S3 server answered {code or 'an error'} for bucket {client.bucket!r}.")
