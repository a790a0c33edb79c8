"""Origin blob store: a protocol in keys and streams, a local directory backend and an S3 one."""

from server.storage.blobstore import (
    BlobReader,
    BlobStat,
    BlobStore,
    LocalBlobStore,
    Staging,
    StoreUnavailable,
    safe_key,
)

__all__ = ["BlobReader", "BlobStat", "BlobStore", "LocalBlobStore", "Staging", "StoreUnavailable", "safe_key"]
