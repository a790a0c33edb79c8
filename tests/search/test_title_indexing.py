"""Title indexing speed work (issue 20) must not change what the index holds: the posting lists and
term index written by `server.search.postings` are Whoosh's own, byte for byte (apart from leaving
small blocks uncompressed, which Whoosh's readers and its segment merge read as they read their own),
and a library of a few hundred titles answers every kind of query exactly as one written by
Whoosh's writer (real Whoosh files; timings live in bench/search_bench.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh import index as windex
from whoosh.codec.whoosh3 import W3Codec

from server.catalog import PUBLISHED, Catalog, Title
from server.paths import DataDir
from server.search import index, query
from server.search.documents import document, make_schema
from server.search.indexing import TitleWriter
from server.search.postings import FastFieldWriter

WORDS = ("amber", "bridge", "canyon", "dawn", "ember", "fjord", "glacier", "harbour", "island",
         "jungle", "kestrel", "lagoon", "meadow", "nebula", "orbit", "prairie")
TAGS = ("cats", "dogs", "space", "sea", "travel", "music")
QUERIES = ("amber", "bridge dawn", "harbour OR orbit", "tag:space", "by:meadow", '"canyon dawn"',
           "gla*", "mead*", "duration:>300", "duration:[40 TO 600]", "file:17", "ember -island",
           "res:1080p", "nebula tag:cats", "upload_date:>2022", "café", "zürich", "run",
           '"brown fox"', "file:img", "by:zoë", "東京")


ODD = (("Ça va? L'été à Zürich", "It's the end of the world as we know it, and I feel fine!",
        "IMG_0042.MOV"),
       ("A b c d e f", "x y z 1 2 3 a.b.c 3.14 co-op e-mail naïve café ŁÓDŹ 東京 タワー", "a_b.c-d.mp4"),
       ("Running runners ran; RUNS", "The quick brown fox jumps over the lazy dog " * 8,
        "run_2024-01-01.mkv"))


def library(catalog: Catalog, n: int = 400) -> None:
    """`n` titles from a small vocabulary, so common words fill several 128-posting blocks, and a
    few with punctuation, accents, other scripts, stop words, one-letter words and numbers."""
    rng = random.Random(20)
    for i, (title, description, file_name) in enumerate(ODD):
        catalog.add_published(Title(video_id=f"odd{i}", status="published", title=title,
                                    description=description, tags=["Ça", "sci-fi"], creator="Zoë O'Brien",
                                    original_name=file_name, duration=12.5 * i, created_at=1.5e9 + i))
    for i in range(n):
        h = rng.choice((2160, 1080, 720, 360))
        catalog.add_published(Title(
            video_id=f"t{i:04d}", status="published",
            title=" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))).capitalize(),
            description=" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 20))) + ".",
            tags=sorted({rng.choice(TAGS) for _ in range(rng.randint(1, 3))}),
            creator=f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}",
            original_name=f"{rng.choice(WORDS)}_{i}.mp4", duration=rng.expovariate(1 / 400), height=h,
            renditions=[{"name": f"{h}p", "height": h, "bandwidth": 1}],
            created_at=1.6e9 + rng.uniform(0, 9.5e7)))


def whooshs_own(catalog: Catalog, path: Path) -> windex.Index:
    """The index as Whoosh's own codec and writer make it."""
    path.mkdir()
    ix = windex.create_in(str(path), make_schema(), indexname=index.INDEX_NAME)
    with ix.writer(procs=1, limitmb=128, codec=W3Codec()) as writer:
        for title in catalog.list(PUBLISHED):
            writer.add_document(**document(title.to_dict()))
    return windex.open_dir(str(path), indexname=index.INDEX_NAME)


def segment_files(path: Path) -> dict[str, bytes]:
    """The files of the index's one segment by name without the segment's (random) id."""
    ix = windex.open_dir(str(path), indexname=index.INDEX_NAME)
    [segment] = ix._segments()
    files = segment.open_compound_file(ix.storage) if segment.is_compound() else ix.storage
    prefix = segment.make_filename("")
    return {name.removeprefix(prefix): files.open_file(name).read()
            for name in files.list() if name.startswith(prefix)}


def answers(ix: windex.Index, text: str) -> list[tuple[str, float]]:
    with ix.searcher() as searcher:
        hits = searcher.search(query.build(query.make_parser(), text), limit=None)
        return [(hit["video_id"], hit.score) for hit in hits]


def test_the_postings_and_terms_are_whooshs_own_bytes(data: DataDir, catalog: Catalog, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    library(catalog)
    monkeypatch.setattr(FastFieldWriter, "compress_from", 0)  # compress every block, as Whoosh does
    index.rebuild(data.search_index, catalog)
    spilled = written_in_runs(catalog, tmp_path / "spilled")
    whooshs_own(catalog, tmp_path / "whoosh")
    theirs = segment_files(tmp_path / "whoosh")
    assert {".trm", ".pst"} <= set(theirs)
    for ours in (segment_files(data.search_index), segment_files(spilled)):
        assert ours.keys() == theirs.keys()
        for name in theirs:
            assert ours[name] == theirs[name], name


def written_in_runs(catalog: Catalog, path: Path) -> Path:
    """The index written by `TitleWriter` with a 1 MB pool: postings spill to sorted runs on disk
    (a few thousand postings each) that are merged at commit, as a large library's are at 128 MB."""
    path.mkdir()
    ix = windex.create_in(str(path), make_schema(), indexname=index.INDEX_NAME)
    with TitleWriter(ix, limitmb=1, codec=index.UniqueSegments()) as writer:
        for title in catalog.list(PUBLISHED):
            writer.add_document(**document(title.to_dict()))
        assert writer.pool.runs, "nothing spilled: the test proves nothing"
    return path


def test_an_index_with_small_blocks_uncompressed_answers_as_whooshs_own(data: DataDir, catalog: Catalog,
                                                                        tmp_path: Path) -> None:
    library(catalog)
    ours = index.rebuild(data.search_index, catalog)
    theirs = whooshs_own(catalog, tmp_path / "whoosh")
    assert segment_files(data.search_index)[".pst"] != segment_files(tmp_path / "whoosh")[".pst"]
    for text in QUERIES:
        found = answers(ours, text)
        assert found, text
        assert found == answers(theirs, text), text
