"""Properties of the edge's front door (issue 16): signed tokens and Range headers, for any input.

Tokens: what is signed verifies until it expires; anything else (tampered, random, foreign) is
refused with Forbidden and never raises anything else. Range: any header string gives a 200, 206 or
416 decision, never an exception, and a 206 carries exactly the asked bytes (also over real HTTP,
for a cached object and for one streamed through from the origin).
"""

from __future__ import annotations

import http.client
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from server.cdn.httpio import ByteRange, RangeNotSatisfiable, parse_range
from server.cdn.tokens import MAX_EXPIRY, Signer
from server.errors import Forbidden
from tests.cdn.conftest import VIDEO_ID, EdgeMaker

SIGNER = Signer(b"p" * 32)
video_ids = st.text(min_size=1, max_size=40)
expiries = st.integers(min_value=1, max_value=MAX_EXPIRY)
positions = st.integers(min_value=0, max_value=10**13)
sizes = st.integers(min_value=0, max_value=10**12)
# header text that http.client sends as is (printable ASCII, no leading blank)
header_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)


# -- tokens ---------------------------------------------------------------------------------------
@given(video_ids, expiries, st.floats(min_value=0, max_value=1.0, exclude_max=True))
def test_a_signed_token_verifies_until_it_expires(video_id: str, expires_at: int, part: float) -> None:
    token = SIGNER.sign(video_id, expires_at)
    assert SIGNER.verify(token, video_id, now=expires_at * part) == expires_at
    with pytest.raises(Forbidden, match="expired"):
        SIGNER.verify(token, video_id, now=expires_at)


def refused(token: str, video_id: str) -> bool:
    try:
        SIGNER.verify(token, video_id, now=0)
    except Forbidden:
        return True
    return False


@given(st.text(max_size=200), video_ids)
def test_any_random_string_is_refused_and_never_raises_anything_else(token: str, video_id: str) -> None:
    assert refused(token, video_id)


@given(video_ids, expiries, st.data())
def test_any_tampered_token_is_refused(video_id: str, expires_at: int, data: st.DataObject) -> None:
    token = SIGNER.sign(video_id, expires_at)
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    how = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    char = data.draw(st.characters())
    tampered = {"replace": token[:at] + char + token[at + 1:], "insert": token[:at] + char + token[at:],
                "delete": token[:at] + token[at + 1:]}[how]
    assume(tampered != token)
    assert refused(tampered, video_id)


@given(video_ids, video_ids, expiries)
def test_a_token_opens_only_its_own_title(video_id: str, other: str, expires_at: int) -> None:
    assume(other != video_id)
    assert refused(SIGNER.sign(video_id, expires_at), other)


# -- Range parsing --------------------------------------------------------------------------------
def expected_range(first: int | None, last: int | None, size: int) -> ByteRange | None:
    """RFC 9110 §14.1.2 for one range, as a reference: None when it cannot be satisfied."""
    if first is None:
        assert last is not None
        return None if last == 0 or size == 0 else ByteRange(max(0, size - last), size - 1)
    if first >= size or (last is not None and last < first):
        return None
    return ByteRange(first, size - 1 if last is None else min(last, size - 1))


def decide(header: str | None, size: int) -> ByteRange | str:
    """The edge's decision: a ByteRange (206), "whole" (200) or "416"."""
    try:
        rng = parse_range(header, size)
    except RangeNotSatisfiable:
        return "416"
    return "whole" if rng is None else rng


@given(st.one_of(st.none(), st.text(max_size=60), header_text), sizes)
def test_any_header_gives_a_valid_decision(header: str | None, size: int) -> None:
    decision = decide(header, size)
    if isinstance(decision, ByteRange):
        assert 0 <= decision.start <= decision.end < size


@given(st.one_of(st.none(), positions), st.one_of(st.none(), positions), sizes,
       st.sampled_from(["bytes", "BYTES", "Bytes"]), st.sampled_from(["", " ", "\t"]))
def test_one_byte_range_means_exactly_the_rfc_bytes(first: int | None, last: int | None, size: int,
                                                   unit: str, pad: str) -> None:
    assume(first is not None or last is not None)
    header = f"{pad}{unit}={'' if first is None else first}-{'' if last is None else last}{pad}"
    wanted = expected_range(first, last, size)
    assert decide(header, size) == (wanted if wanted is not None else "416")


@given(st.sampled_from(["items=0-1", "bytes=0-1,2-3", "bytes=1_0-20", "bytes=+1-2", "bytes= 1-2",
                        "bytes=\u0661-2", "bytes=0x1-2", "bytes=-", "bytes=", "bytes=1-2-3"]), sizes)
def test_anything_but_one_plain_range_means_the_whole_object(header: str, size: int) -> None:
    assert decide(header, size) == "whole"


# -- Range over real HTTP -------------------------------------------------------------------------
SEG = f"videos/{VIDEO_ID}/cmaf/90p/seg_001.m4s"
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def get(port: int, path: str, range_header: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Range": range_header})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


range_headers = st.one_of(
    header_text,
    st.builds(lambda a, b: f"bytes={a}-{b}", st.one_of(st.just(""), st.integers(0, 40_000).map(str)),
              st.one_of(st.just(""), st.integers(0, 40_000).map(str))))


@pytest.fixture(params=[True, False], ids=["cached", "pass-through"])
def range_edge(request: pytest.FixtureRequest, make_edge: EdgeMaker) -> tuple[int, str]:
    """(port, path of SEG) on an edge that caches it, or one too small to, which streams it through."""
    cached = request.param
    edge = make_edge(capacity_bytes=50_000_000 if cached else 100)
    return edge.port, edge.url_for(VIDEO_ID, SEG.split("/", 2)[2]).split(str(edge.port), 1)[1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=range_headers)
def test_the_edge_serves_exactly_the_asked_bytes(range_edge: tuple[int, str], store, header: str) -> None:
    whole = store.read(SEG)
    status, headers, body = get(*range_edge, header)
    decision = decide(header, len(whole))
    if decision == "whole":
        assert (status, body) == (200, whole)
    elif decision == "416":
        assert (status, headers["content-range"]) == (416, f"bytes */{len(whole)}")
    else:
        assert isinstance(decision, ByteRange)
        assert status == 206 and body == whole[decision.start:decision.end + 1]
        assert headers["content-range"] == decision.content_range(len(whole))
