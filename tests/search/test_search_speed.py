"""What the speed work on search must not change (real Whoosh files; timings live in
bench/search_bench.py): the rebuilt title index ranks exactly as Whoosh's own writer would, duration
ranges still match (also on an index written before the coarser range tiers), and subtitle search
groups cue hits by title from the `video_id` column, pages by title, and remakes a cue index of an
earlier build that lacks that column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from whoosh import index as windex
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema

from server.catalog import PUBLISHED, Catalog
from server.events.log import EventLog
from server.paths import DataDir
from server.search import index, query
from server.search.cues import CueIndex, CueTracks
from server.search.documents import document, make_schema
from server.search.service import SearchService

QUERIES = ("cats", "dogs sea", "space station", "tag:dogs", "by:lima", "harbour OR orbit")


def ranking(ix: windex.Index, text: str) -> list[tuple[str, float]]:
    with ix.searcher() as searcher:
        built = query.build(query.make_parser(), text)
        return [(hit["video_id"], round(hit.score, 9)) for hit in searcher.search(built, limit=None)]


@pytest.mark.usefixtures("library")
def test_the_rebuilt_index_ranks_exactly_as_whooshs_own_writer(data: DataDir, catalog: Catalog,
                                                                tmp_path: Path) -> None:
    ours = index.rebuild(data.search_index, catalog)
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    plain = windex.create_in(str(plain_dir), make_schema(), indexname=index.INDEX_NAME)
    with plain.writer() as writer:
        for title in catalog.list(PUBLISHED):
            writer.add_document(**document(title.to_dict()))
    for text in QUERIES:
        ranked = ranking(ours, text)
        assert ranked, text
        assert ranked == ranking(plain, text), text


@pytest.mark.usefixtures("library")
def test_duration_ranges_match_the_titles_in_them(data: DataDir, log: EventLog, catalog: Catalog) -> None:
    service = SearchService(data, log, catalog)
    service.catch_up()
    assert {h["video_id"] for h in service.search("duration:>100").hits} == {"dogs", "station"}
    assert {h["video_id"] for h in service.search("duration:[40 TO 300]").hits} == {"cats", "dogs"}


@pytest.mark.usefixtures("library")
def test_duration_ranges_match_on_an_index_written_with_the_finer_tiers(catalog: Catalog,
                                                                        tmp_path: Path) -> None:
    """A data dir indexed by an earlier build (16 range tiers a duration) answers the same."""
    schema = make_schema()
    schema.remove("duration")
    schema.add("duration", NUMERIC(float, stored=True))
    ix = windex.create_in(str(tmp_path), schema, indexname=index.INDEX_NAME)
    with ix.writer() as writer:
        for title in catalog.list(PUBLISHED):
            writer.add_document(**document(title.to_dict()))
    assert {vid for vid, _ in ranking(ix, "duration:>100")} == {"dogs", "station"}
    assert {vid for vid, _ in ranking(ix, "duration:[40 TO 300]")} == {"cats", "dogs"}


SAID: dict[str, CueTracks] = {
    "often": [("en", [(float(60 * i), 60 * i + 2.0, f"the bridge number {i}") for i in range(8, 0, -1)])],
    "once": [("fr", [(5.0, 7.0, "a bridge at dawn"), (9.0, 10.0, "nothing here")])],
    "never": [("en", [(1.0, 2.0, "only fog")])],
}


def cues(path: Path) -> CueIndex:
    index_ = CueIndex(path, SAID.__getitem__)
    index_.apply([{"video_id": vid, "title": vid.title()} for vid in SAID], [])
    return index_


def test_cue_hits_are_grouped_by_title_with_five_moments_in_time_order(tmp_path: Path) -> None:
    found = cues(tmp_path / "cues")
    with found.ix.searcher() as searcher:
        result = found.search(searcher, "bridge")
        assert result["total"] == 2
        often = next(hit for hit in result["hits"] if hit["video_id"] == "often")
        assert often["title"] == "Often"
        starts = [m["start"] for m in often["moments"]]
        assert len(starts) == 5 and starts == sorted(starts)
        assert all('">bridge</mark>' in m["snippet"] for m in often["moments"])
        [first] = found.search(searcher, "bridge", limit=1)["hits"]
        [second] = found.search(searcher, "bridge", limit=1, offset=1)["hits"]
        assert {first["video_id"], second["video_id"]} == {"often", "once"}
        once = first if first["video_id"] == "once" else second
        assert [(m["at"], m["language"], m["text"]) for m in once["moments"]] == [
            ("0:05", "fr", "a bridge at dawn")]


def test_a_cue_index_from_an_earlier_build_is_made_again(tmp_path: Path) -> None:
    """One document per cue, without the `video_id` column (the first build): created anew (the
    service then fills it from the catalog)."""
    path = tmp_path / "cues"
    path.mkdir()
    old = Schema(video_id=ID(stored=True), title=STORED(), language=ID(stored=True), start=STORED(),
                 end=STORED(), text=TEXT(stored=True, phrase=True))
    ix = windex.create_in(str(path), old, indexname="cues")
    with ix.writer() as writer:
        writer.add_document(video_id="gone", title="Gone", language="en", start=1.0, end=2.0, text="bridge")
    remade = CueIndex(path, SAID.__getitem__)
    assert remade.created
    remade.apply([{"video_id": "once", "title": "Once"}], [])
    with remade.ix.searcher() as searcher:
        assert [h["video_id"] for h in remade.search(searcher, "bridge")["hits"]] == ["once"]


def test_an_index_updated_title_by_title_merges_its_segments_and_finds_every_title(
        data: DataDir, catalog: Catalog, publish: Any) -> None:
    """Every commit of the indexer adds a segment and Whoosh merges the small ones: what the speed
    work writes must survive that (an inlined posting of a one-title term broke the merge)."""
    ix = index.rebuild(data.search_index, catalog)
    writer = index.IndexWriter(ix)
    names = [f"title{n:02d}" for n in range(14)]
    for n, name in enumerate(names):
        writer.apply([publish(name, f"Word{n}x of {name}", f"only here: unique{n}z").to_dict()], [])
    assert len(ix._segments()) < len(names), "no merge happened: the test proves nothing"
    parser = query.make_parser()
    with ix.refresh().searcher() as searcher:
        for n, name in enumerate(names):
            assert [hit["video_id"] for hit in searcher.search(query.build(parser, f"unique{n}z"))] == [name]
