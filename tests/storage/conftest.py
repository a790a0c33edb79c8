"""A real SeaweedFS server (S3 gateway) on loopback for the S3 origin's tests, one per test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from server.cluster.seaweed import SeaweedServer
from server.storage.s3 import S3BlobStore, open_s3_origin
from tests.conftest import engine_processes


def bucket_client(server: SeaweedServer) -> Any:
    """A plain boto3 client of `server` with its own keys (boto3's default session would keep the
    keys of whichever server it met first)."""
    return boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key)


def bucket_of(url: str) -> str:
    return url.split("://", 1)[1].split("?", 1)[0]


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    folder = tmp_path_factory.mktemp("seaweed")
    server = SeaweedServer(folder)
    try:
        yield server.start()
    finally:
        server.stop()
        assert engine_processes("weed", folder) == [], "weed processes outlived the tests"
        ours = {f"-{port}.sock" for port in server.ports.values()}
        left = [f for f in os.listdir("/tmp")
                if f.startswith("seaweedfs-") and f"-{f.rsplit('-', 1)[-1]}" in ours]
        assert left == [], f"weed left sockets in /tmp: {left}"


@pytest.fixture
def s3_url(seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `origin` setting of a fresh bucket on the module's server, its credentials in the
    environment (as boto3 reads them) and the setting in MINIFLIX_ORIGIN."""
    if not seaweed.running():   # a test that stopped the server and failed before restarting it
        seaweed.restart()
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    seaweed.create_bucket(bucket)
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)
    url = seaweed.origin_url(bucket)
    monkeypatch.setenv("MINIFLIX_ORIGIN", url)
    return url


@pytest.fixture
def s3_store(s3_url: str) -> S3BlobStore:
    return open_s3_origin(s3_url, None)
