"""The kept source's file name: any name a user uploads under becomes one every file system takes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.jobs.names import NAME_BYTES, kept_source_name, title_from


@given(st.text(max_size=600))
def test_any_name_becomes_a_short_plain_file_name(name: str) -> None:
    kept = kept_source_name(name)
    assert 0 < len(kept.encode()) <= NAME_BYTES
    assert not set(kept) & set("/\\\0:*?\"<>|") and not kept.startswith(".")


def test_a_long_cjk_name_is_cut_by_bytes_and_keeps_its_extension() -> None:
    name = "夏の海" * 40 + ".mkv"  # 120 characters before the extension, 360 bytes
    kept = kept_source_name(name)
    assert kept.endswith(".mkv") and kept.startswith("夏の海夏の海")
    assert len(kept.encode()) <= NAME_BYTES and kept[:-4] == "夏の海" * 21 + "夏の"


def test_folders_and_odd_characters_do_not_survive() -> None:
    assert kept_source_name("C:\\Users\\me\\My clip (final).MOV") == "My clip _final_.MOV"
    assert kept_source_name("../../etc/passwd") == "passwd"
    assert kept_source_name("...") == "source"
    assert title_from("my_holiday_2024.mp4") == "my holiday 2024"
