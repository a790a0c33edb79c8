"""The catalog keeps published titles, failure records with their message, edits and deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.catalog import DELETED, FAILED, PUBLISHED, Catalog, Title
from server.errors import InvalidRequest, NotFound


def test_published_failed_and_listing(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_published(Title(video_id="v1", status="", title="Cats", duration=12.5,
                                renditions=[{"name": "720p"}, {"name": "360p"}]))
    catalog.record_failure("v2", "broken.mp4", "broken.mp4: not a media file")
    assert [t.video_id for t in catalog.list()] == ["v1"]
    assert {t.status for t in catalog.list(None)} == {PUBLISHED, FAILED}
    assert catalog.get("v2").error == "broken.mp4: not a media file"
    assert catalog.get("v1").top_rendition == "720p"


def test_edit_metadata_normalises_tags_and_refuses_unknown_fields(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_published(Title(video_id="v1", status=""))
    edited = catalog.update_metadata("v1", title="Dogs", tags="Pets, dogs ,,")
    assert (edited.title, edited.tags) == ("Dogs", ["pets", "dogs"])
    with pytest.raises(InvalidRequest):
        catalog.update_metadata("v1", duration=3)
    with pytest.raises(NotFound):
        catalog.update_metadata("nope", title="x")


def test_delete_and_restore(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_published(Title(video_id="v1", status=""))
    assert catalog.mark_deleted("v1", "tok").status == DELETED
    assert catalog.list() == []
    assert catalog.mark_restored("v1").status == PUBLISHED
