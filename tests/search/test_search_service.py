"""Search over a real Whoosh index in a temp dir: ranking, typos, prefixes, phrases, field queries,
facets, sorting, snippets, suggestions, deletion, and recovery of a damaged or missing index."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from server.catalog import Catalog
from server.errors import InvalidRequest
from server.events.log import EventLog
from server.paths import DataDir
from server.search.service import SearchService
from tests.search.conftest import Publish


@pytest.fixture
def search(data: DataDir, log: EventLog, catalog: Catalog, library: None) -> SearchService:
    service = SearchService(data, log, catalog, views=lambda: {"dogs": 7, "station": 3})
    service.catch_up()
    return service


def ids(service: SearchService, q: str, **options) -> list[str]:
    return [h["video_id"] for h in service.search(q, **options).hits]


def test_title_matches_rank_above_description_matches(search: SearchService) -> None:
    assert ids(search, "cats") == ["cats", "station"]  # "station" only mentions cats in its description
    assert ids(search, "nothing-like-this") == []


def test_typos_still_find_the_title(search: SearchService) -> None:
    assert ids(search, "catz")[0] == "cats"
    assert ids(search, "statoin") == ["station"]
    assert ids(search, "spacce statoin") == ["station"]
    assert ids(search, "galaxxy") == []  # descriptions match exactly (fuzzy is for titles and creators)


def test_prefix_matches_only_the_word_being_typed(search: SearchService) -> None:
    assert ids(search, "stat") == ["station"]  # as you type "station"
    assert ids(search, "stat ") == []  # a finished word is not a prefix


def test_phrase_and_field_queries(search: SearchService) -> None:
    assert ids(search, "boat small") == ["dogs"]
    assert ids(search, '"small boat"') == ["dogs"]
    assert ids(search, '"boat small"') == []  # a phrase keeps its word order
    assert set(ids(search, "sea dogs")) == {"dogs", "sea-dogs"}
    assert set(ids(search, "tag:space")) == {"cats", "station"}
    assert ids(search, "by:ana") == ["cats"]
    assert ids(search, "file:kitties") == ["cats"]


def test_facets_count_the_matches_and_filter_them(search: SearchService) -> None:
    result = search.search("")
    assert result.total == 4
    assert dict(result.facets["tags"]) == {"dogs": 2, "space": 2, "cats": 1, "sea": 1}
    assert dict(result.facets["resolution"]) == {"720p": 2, "1080p": 1, "360p": 1}
    assert dict(result.facets["duration_bucket"]) == {"< 1 min": 2, "1-5 min": 1, "> 20 min": 1}
    assert len(result.facets["upload_month"]) in (1, 2, 3)
    filtered = search.search("", facets={"tags": "dogs", "resolution": "720p"})
    assert [h["video_id"] for h in filtered.hits] == ["dogs"]
    assert dict(filtered.facets["tags"]) == {"dogs": 1, "sea": 1}
    with pytest.raises(InvalidRequest, match="Cannot filter on 'colour'"):
        search.search("", facets={"colour": "red"})


def test_sort_by_newest_and_most_viewed(search: SearchService) -> None:
    assert ids(search, "", sort="newest") == ["station", "sea-dogs", "dogs", "cats"]
    assert ids(search, "", sort="views")[:2] == ["dogs", "station"]
    assert ids(search, "dogs", sort="views") == ["dogs", "sea-dogs"]
    with pytest.raises(InvalidRequest, match="Unknown sort"):
        search.search("x", sort="random")


def test_paging_and_highlighted_snippets(search: SearchService) -> None:
    first, second = search.search("", limit=2), search.search("", limit=2, offset=2)
    assert first.total == second.total == 4
    assert {h["video_id"] for h in first.hits}.isdisjoint({h["video_id"] for h in second.hits})
    [hit] = search.search("galaxy").hits
    assert "<mark" in hit["snippet"] and "galaxy</mark>" in hit["snippet"]
    assert hit["title"] == "Cats in space" and hit["tags"] == ["cats", "space"]


def test_markup_in_titles_is_escaped(publish: Publish, data, log, catalog) -> None:
    publish("xss", "<script>alert(1)</script> clip", "a <b>bold</b> description")
    service = SearchService(data, log, catalog)
    service.catch_up()
    [hit] = service.search("clip").hits
    assert "<script>" not in hit["title_html"] and "<b>" not in hit["snippet"]


def test_did_you_mean_for_queries_without_hits(search: SearchService) -> None:
    result = search.search("dgos")
    assert result.hits == [] and result.suggestion == "dogs"
    assert search.search("tag:space statoinn dgos").suggestion == "tag:space station dogs"
    assert search.search("cats").suggestion is None


def test_deleted_titles_disappear_and_restored_ones_return(search, log: EventLog, catalog: Catalog) -> None:
    catalog.mark_deleted("dogs", "trash-1")
    log.publish("videos", "dogs", {"type": "deleted", "video_id": "dogs", "at": time.time()})
    search.catch_up()
    assert ids(search, '"small boat"') == []
    restored = catalog.mark_restored("dogs")
    log.publish("videos", "dogs", {"type": "restored", "video_id": "dogs", "at": time.time(),
                                   "title": restored.to_dict()})
    search.catch_up()
    assert ids(search, '"small boat"') == ["dogs"]


def test_running_indexer_follows_new_titles(data, log, catalog, publish: Publish) -> None:
    service = SearchService(data, log, catalog)
    service.start()
    try:
        publish("late", "A late arrival", "published while the indexer runs")
        deadline = time.monotonic() + 30
        while not ids(service, "arrival") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ids(service, "arrival") == ["late"]
    finally:
        service.stop()


def damage(index_dir: Path) -> None:
    for f in index_dir.iterdir():
        if f.suffix in (".toc", ".seg"):
            f.write_bytes(b"\x00garbage" * 16)


def test_damaged_index_is_rebuilt_from_the_catalog(search, data, log, catalog, caplog) -> None:
    assert not SearchService(data, log, catalog).rebuilt, "a healthy index is opened, not rebuilt"
    damage(data.search_index)
    with caplog.at_level(logging.WARNING, logger="server.search.index"):
        service = SearchService(data, log, catalog)
    assert service.rebuilt and "rebuilding it from the catalog" in caplog.text
    assert set(ids(service, "dogs")) == {"dogs", "sea-dogs"}
    assert service.catch_up() == 0  # events already reflected by the catalog are not replayed


def test_missing_index_is_built_from_the_catalog(data, log, catalog, library, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="server.search.index"):
        service = SearchService(data, log, catalog)
    assert service.rebuilt and "missing" in caplog.text
    assert ids(service, "station") == ["station"]


@pytest.fixture
def comets(data: DataDir, log: EventLog, catalog: Catalog, publish: Publish) -> SearchService:
    """40 titles about comets (half in 1080p), 20 more that mention one only in the description, and
    20 without: more matches than a page, in several fields, so nothing may be left uncounted."""
    for i in range(80):
        title = f"Comet {i} over the hills" if i < 40 else f"Evening sky {i}"
        description = "the bright comet returns" if 40 <= i < 60 else "clear night"
        publish(f"c{i:02d}", title, description, ("sky", "tail") if i % 4 == 0 else ("sky",),
                height=1080 if i % 2 else 720)
    service = SearchService(data, log, catalog)
    service.catch_up()
    return service


def test_totals_and_facets_count_every_match_beyond_the_page(comets: SearchService) -> None:
    result = comets.search("comet", limit=3)
    assert len(result.hits) == 3 and result.total == 60
    assert dict(result.facets["resolution"]) == {"1080p": 30, "720p": 30}
    assert dict(result.facets["tags"]) == {"sky": 60, "tail": 15}
    filtered = comets.search("comet", facets={"resolution": "1080p"}, limit=3)
    assert filtered.total == 30 and dict(filtered.facets["resolution"]) == {"1080p": 30}
    assert {h["resolution"] for h in filtered.hits} == {"1080p"}
    phrase = comets.search('"bright comet"', facets={"resolution": "720p"}, limit=2)  # walked, not bulk
    assert phrase.total == 10 and dict(phrase.facets["tags"]) == {"sky": 10, "tail": 5}


def test_filtered_search_as_you_type_ranks_only_allowed_titles(comets: SearchService) -> None:
    result = comets.search("comet", facets={"resolution": "720p", "tags": "tail"}, limit=5,
                           facet_counts=False)
    assert len(result.hits) == 5 and result.facets == {}
    assert all(h["resolution"] == "720p" and "tail" in h["tags"] for h in result.hits)
    assert comets.search("comet", limit=100).total == 60  # a page holding every match counts exactly


def test_a_filter_nothing_passes_leaves_no_hits(comets: SearchService) -> None:
    for counts in (True, False):
        result = comets.search("comet", facets={"resolution": "360p"}, facet_counts=counts)
        assert result.hits == [] and result.total == 0


def uploaded_on(day: str) -> float:
    """`days_ago` for a title uploaded at noon UTC on `day` (YYYY-MM-DD)."""
    from datetime import UTC, datetime
    when = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC).timestamp()
    return (time.time() - when) / 86400


@pytest.fixture
def dated(data: DataDir, log: EventLog, catalog: Catalog, publish: Publish) -> SearchService:
    for video_id, day in (("may", "2021-05-31"), ("june", "2021-06-15"), ("july", "2021-07-01"),
                          ("later", "2022-01-03")):
        publish(video_id, f"Harbour walk {video_id}", days_ago=uploaded_on(day))
    service = SearchService(data, log, catalog)
    service.catch_up()
    return service


@pytest.mark.parametrize(("q", "expected"), [
    ("uploaded:>2021-06", {"july", "later"}),       # after June: Whoosh's own parser read "after 2021"
    ("uploaded:>=2021-06", {"june", "july", "later"}),
    ("uploaded:<2021-06", {"may"}),
    ("uploaded:<=2021-06", {"may", "june"}),
    ("uploaded:2021-06", {"june"}),
    ("upload_date:2021", {"may", "june", "july"}),
    ("harbour uploaded:>2021-06-15 uploaded:<2022", {"july"}),
    ("date:2021-07-01", {"july"}),
])
def test_upload_date_filters_take_the_whole_year_month_or_day(dated: SearchService, q: str,
                                                              expected: set[str]) -> None:
    assert set(ids(dated, q)) == expected


@pytest.mark.parametrize("q", ["uploaded:2021-13", "uploaded:2021-02-30", "upload_date:>june 2021"])
def test_a_date_that_is_no_date_is_a_clear_error(dated: SearchService, q: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        dated.search(q)
    assert q.split(":")[0] in str(caught.value) or "search" in str(caught.value)
    assert "YYYY-MM" in (caught.value.hint or "")
