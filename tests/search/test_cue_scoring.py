"""The cue index's kept lengths and video-id column (real Whoosh files): the ranking is Whoosh's own
BM25F to the bit, over several segments and after deletions, and a block's title stays right after
the index changes under a searcher that is refreshed."""

from __future__ import annotations

import random
from pathlib import Path

from whoosh import query as wq
from whoosh.collectors import TopCollector

from server.search.cue_scoring import KeptLengthsBM25F, VideoIds
from server.search.cues import CueIndex, CueTracks

WORDS = ["bridge", "dawn", "river", "map", "old", "night", "city", "rain", "light", "road", "stone", "fire",
         "wind", "home", "sea"]


def speech(seed: int) -> CueTracks:
    rng = random.Random(seed)
    cues = [(i * 20.0, i * 20.0 + 3, " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))))
            for i in range(60)]  # 20 minutes: four blocks of different lengths
    return [("en", cues)]


def ranking(searcher: object, q: wq.Query, weighting: object | None) -> list[tuple[float, int]]:
    collector = TopCollector(limit=1000)
    context = searcher.context(weighting=weighting) if weighting is not None else None  # type: ignore[attr-defined]
    searcher.search_with_collector(q, collector, context)  # type: ignore[attr-defined]
    top: list[tuple[float, int]] = collector.results().top_n
    return top


def test_kept_lengths_rank_exactly_as_whooshs_bm25f_across_segments_and_deletions(tmp_path: Path) -> None:
    cues = CueIndex(tmp_path / "cues", lambda video_id: speech(int(video_id[1:])))
    for batch in range(3):  # three commits: three segments
        cues.apply([{"video_id": f"v{i}", "title": f"T{i}"} for i in range(batch * 10, batch * 10 + 10)], [])
    cues.apply([], ["v3", "v17"])
    kept = KeptLengthsBM25F()
    with cues.ix.searcher() as searcher:
        assert len(searcher.leaf_searchers()) > 1
        for q in (wq.Term("text", "bridge"), wq.And([wq.Term("text", "old"), wq.Term("text", "sea")]),
                  wq.Or([wq.Term("text", "rain"), wq.Term("text", "fire", boost=0.6)])):
            whoosh, ours = ranking(searcher, q, None), ranking(searcher, q, kept)
            assert ours == whoosh and len(ours) > 10  # same blocks, same order, same floats
            assert ranking(searcher, q, kept) == whoosh  # and again from the kept lengths


def test_a_blocks_title_is_right_after_the_index_changes(tmp_path: Path) -> None:
    said = {"v1": [("en", [(1.0, 2.0, "the bridge at dawn")])], "v2": [("en", [(1.0, 2.0, "a river")])]}
    cues = CueIndex(tmp_path / "cues", said.__getitem__)
    cues.apply([{"video_id": "v1", "title": "One"}], [])
    searcher = cues.ix.searcher()
    assert [h["video_id"] for h in cues.search(searcher, "bridge")["hits"]] == ["v1"]
    said["v0"] = [("en", [(1.0, 2.0, "under the bridge")])]
    cues.apply([{"video_id": "v2", "title": "Two"}, {"video_id": "v0", "title": "Zero"}], ["v1"])
    searcher = searcher.refresh()  # a new reader: block numbers now mean other blocks
    assert [h["video_id"] for h in cues.search(searcher, "bridge")["hits"]] == ["v0"]
    ids = VideoIds()
    live = [n for n in range(searcher.doc_count_all()) if not searcher.reader().is_deleted(n)]
    assert {ids.of(searcher)(n) for n in live} == {"v0", "v2"}
    searcher.close()
