"""Origin blob store: an interface and its local directory backend."""

from server.storage.blobstore import BlobStat, BlobStore, LocalBlobStore, safe_key

__all__ = ["BlobStat", "BlobStore", "LocalBlobStore", "safe_key"]
