"""Signed edge links: what a tampered, foreign or expired token gets, and where the key lives."""

from __future__ import annotations

import stat

import pytest

from server.cdn.tokens import Signer, load_or_create_key
from server.errors import Forbidden, InvalidRequest


def test_a_token_opens_its_title_until_it_expires() -> None:
    signer = Signer(b"s" * 32)
    token = signer.sign("abc", 1_000)
    assert signer.verify(token, "abc", now=999) == 1_000
    with pytest.raises(Forbidden, match="expired"):
        signer.verify(token, "abc", now=1_000)


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),          # flipped MAC
    lambda t: f"{int(t.split('.')[0], 16) + 3600:x}." + t.split(".")[1],   # extended expiry
    lambda t: "zz." + t.split(".")[1],                          # garbage expiry
    lambda t: t.split(".")[0],                                  # no MAC at all
])
def test_tampered_tokens_are_refused(mutate) -> None:
    signer = Signer(b"s" * 32)
    with pytest.raises(Forbidden):
        signer.verify(mutate(signer.sign("abc", 1_000)), "abc", now=0)


def test_a_token_for_one_title_does_not_open_another_or_work_with_another_key() -> None:
    token = Signer(b"s" * 32).sign("abc", 1_000)
    with pytest.raises(Forbidden, match="does not match"):
        Signer(b"s" * 32).verify(token, "abd", now=0)
    with pytest.raises(Forbidden):
        Signer(b"t" * 32).verify(token, "abc", now=0)


def test_the_key_is_created_once_readable_by_the_owner_only(data_dir) -> None:
    key = load_or_create_key(data_dir)
    path = data_dir.keys / "edge.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(data_dir) == key and len(key) == 32
    path.chmod(0o644)
    load_or_create_key(data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_key_file_is_reported_with_what_to_do(data_dir) -> None:
    (data_dir.keys / "edge.key").write_bytes(b"short")
    with pytest.raises(InvalidRequest, match="damaged") as err:
        load_or_create_key(data_dir)
    assert "delete it" in str(err.value)
