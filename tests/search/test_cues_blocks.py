"""Subtitle search over blocks of a few minutes (real Whoosh files in a temp dir): phrases stay word
for word (through common word pairs and through positions), a phrase said across two cues is found
at the first cue, a typo near many words is read as the commonest few, a title's moments come from
several blocks in time order, and a data dir indexed cue by cue by an earlier build is filled again
from the catalog when the service starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from whoosh import index as windex
from whoosh.fields import ID, STORED, TEXT, Schema

from server.catalog import Catalog
from server.events.log import EventLog
from server.paths import DataDir
from server.search import cues as cues_module
from server.search.cues import BLOCK_S, TYPO_WORDS, CueIndex, CueTracks
from server.search.service import SearchService
from tests.search.conftest import Publish

SAID: dict[str, CueTracks] = {
    "dawn": [("en", [(5.0, 7.0, "Meet me at the bridge at dawn."), (8.0, 9.0, "Bring the map.")])],
    "split": [("en", [(61.0, 63.0, "We cross the bridge"), (63.5, 65.0, "at dawn, all of us."),
                      (70.0, 71.0, "Meet near the old bridge.")])],
    "reversed": [("en", [(2.0, 3.0, "Dawn at the bridge, never at dawn the bridge.")])],
    "apart": [("en", [(1.0, 2.0, "The bridge"), (BLOCK_S + 1, BLOCK_S + 2, "at dawn")])],
    "aged": [("en", [(3.0, 4.0, "That bridge is old; old, yes, bridge.")])],
}


def index_of(path: Path, said: dict[str, CueTracks]) -> CueIndex:
    cues = CueIndex(path, said.__getitem__)
    cues.apply([{"video_id": vid, "title": vid.title()} for vid in said], [])
    return cues


def found(cues: CueIndex, q: str, **page: Any) -> dict[str, list[tuple[str, str]]]:
    """video id -> its moments as (clock, text), for the titles `q` finds."""
    with cues.ix.searcher() as searcher:
        hits = cues.search(searcher, q, **page)["hits"]
    return {h["video_id"]: [(m["at"], m["text"]) for m in h["moments"]] for h in hits}


def test_a_phrase_is_found_word_for_word_even_across_two_cues(tmp_path: Path) -> None:
    cues = index_of(tmp_path / "cues", SAID)
    assert found(cues, '"bridge at dawn"') == {
        "dawn": [("0:05", "Meet me at the bridge at dawn.")],
        "split": [("1:01", "We cross the bridge at dawn, all of us.")],  # from the first cue's start
    }  # not "reversed" (the words, not in that order) nor "apart" (five minutes between them)


def test_a_phrase_of_rarer_words_is_checked_by_position(tmp_path: Path) -> None:
    cues = index_of(tmp_path / "cues", SAID)
    assert found(cues, '"old bridge"') == {"split": [("1:10", "Meet near the old bridge.")]}  # not "aged"


def test_words_in_one_cue_give_it_in_neighbours_both_and_further_apart_the_first(tmp_path: Path) -> None:
    cues = index_of(tmp_path / "cues", SAID)
    assert found(cues, "dawn meet")["dawn"] == [("0:05", "Meet me at the bridge at dawn.")]
    assert found(cues, "map bridge")["dawn"] == [("0:05", "Meet me at the bridge at dawn. Bring the map.")]
    assert found(cues, "cross old") == {"split": [("1:01", "We cross the bridge")]}


def test_a_title_shows_five_moments_from_its_blocks_in_time_order(tmp_path: Path) -> None:
    every_two_minutes = [(120.0 * i, 120.0 * i + 2, f"the bridge, part {i}") for i in range(9, -1, -1)]
    cues = index_of(tmp_path / "cues", {"long": [("en", every_two_minutes)]})
    [(_, moments)] = found(cues, "bridge").items()
    starts = [at for at, _ in moments]
    assert len(starts) == 5 and starts == sorted(starts, key=lambda at: [int(p) for p in at.split(":")])


def test_a_typo_near_many_words_is_read_as_the_commonest(tmp_path: Path) -> None:
    """"brigde" is one edit from "bridge" (said often) and from twelve words said once each: the
    search reads it as the `TYPO_WORDS` commonest, so the title saying "bridge" is found and the rare
    look-alikes do not flood the list."""
    every_block = [(BLOCK_S * i, BLOCK_S * i + 1, "the bridge") for i in range(6)]
    said: dict[str, CueTracks] = {"often": [("en", every_block)]}
    for letter in "abcfghijklmn":
        said[f"rare-{letter}"] = [("en", [(1.0, 2.0, f"a brigd{letter} here")])]
    cues = index_of(tmp_path / "cues", said)
    with cues.ix.searcher() as searcher:
        result = cues.search(searcher, "brigde")
    often = next(hit for hit in result["hits"] if hit["video_id"] == "often")
    assert often["moments"][0]["snippet"] == 'the <mark class="match term0">bridge</mark>'
    assert result["total"] == TYPO_WORDS


def test_an_index_made_cue_by_cue_is_filled_again_from_the_catalog(
        data: DataDir, log: EventLog, catalog: Catalog, publish: Publish) -> None:
    publish("dawn", "Dawn")
    publish("split", "Split")
    old = data.search_index.with_name("search-cues")
    old.mkdir(parents=True)
    schema = Schema(video_id=ID(stored=True, sortable=True), title=STORED(), language=ID(stored=True),
                    start=STORED(), end=STORED(), text=TEXT(stored=True, phrase=True))
    ix = windex.create_in(str(old), schema, indexname="cues")
    with ix.writer() as writer:
        writer.add_document(video_id="gone", title="Gone", language="en", start=1.0, end=2.0,
                            text="the bridge at dawn")
    service = SearchService(data, log, catalog, cues=SAID.__getitem__)
    hits = service.search_subtitles('"bridge at dawn"')["hits"]
    assert sorted(h["video_id"] for h in hits) == ["dawn", "split"]


def test_a_word_said_in_more_blocks_than_are_scored_still_answers_a_full_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranking stops after `SCORED_MOST` matching blocks (in index order), so a word said
    everywhere costs no more than a rarer one: the page is full, its titles say the word."""
    monkeypatch.setattr(cues_module, "SCORED_MOST", 12)
    said: dict[str, CueTracks] = {f"t{i:02d}": [("en", [(1.0, 2.0, f"the bridge, take {i}")])]
                                  for i in range(30)}
    cues = index_of(tmp_path / "cues", said)
    with cues.ix.searcher() as searcher:
        result = cues.search(searcher, "bridge", limit=5)
    assert result["total"] == 12 and len(result["hits"]) == 5
    assert all(h["moments"][0]["snippet"].count("<mark") == 1 for h in result["hits"])
