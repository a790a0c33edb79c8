"""The SeaweedFS launcher: a real `weed server -s3` that keeps its objects across a restart and
refuses a client with the wrong secret."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from server.cluster.seaweed import SeaweedServer


def client(server: SeaweedServer, secret: str | None = None):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        aws_access_key_id=server.access_key,
                        aws_secret_access_key=secret or server.secret_key)


def test_put_get_survives_a_crash_and_restart(seaweed: SeaweedServer) -> None:
    seaweed.create_bucket("launcher")
    s3 = client(seaweed)
    s3.put_object(Bucket="launcher", Key="videos/a/seg.m4s", Body=b"0123456789")
    part = s3.get_object(Bucket="launcher", Key="videos/a/seg.m4s", Range="bytes=2-5")
    assert part["Body"].read() == b"2345"
    ports, pid = seaweed.ports, seaweed.pids[0]
    seaweed.kill()
    assert seaweed.pids == []
    seaweed.restart()
    assert seaweed.ports == ports and seaweed.pids != [pid]
    again = client(seaweed).get_object(Bucket="launcher", Key="videos/a/seg.m4s")
    assert again["Body"].read() == b"0123456789"


def test_wrong_secret_is_refused(seaweed: SeaweedServer) -> None:
    seaweed.create_bucket("launcher")
    with pytest.raises(ClientError):
        client(seaweed, secret="not-the-secret").list_objects_v2(Bucket="launcher")


def test_origin_url_and_env_name_the_server(seaweed: SeaweedServer) -> None:
    assert seaweed.origin_url("media") == f"s3://media?endpoint=http://127.0.0.1:{seaweed.ports['s3']}"
    assert seaweed.env() == {"AWS_ACCESS_KEY_ID": seaweed.access_key,
                             "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
