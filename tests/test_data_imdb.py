"""helpers.data.imdb on the real shared IMDB archive and on small layouts built in tmp_path."""

from __future__ import annotations

import re
import shutil
import tarfile

import pytest

from helpers.core.errors import ReproError
from helpers.data.imdb import COLUMNS, load_imdb


@pytest.fixture(scope="module")
def imdb(shared_data):
    """All 50k reviews, loaded once through the default source (= the shared archive)."""
    assert (shared_data / "imdb" / "aclImdb_labeled_50k_text.tar.gz").is_file()
    return load_imdb()


def test_real_archive_counts_and_balance(imdb):
    assert list(imdb.columns) == COLUMNS
    assert len(imdb) == 50_000
    assert imdb["review_id"].is_unique
    counts = imdb.groupby(["split", "label"]).size()
    assert counts.to_dict() == {(s, lab): 12_500 for s in ("test", "train") for lab in (0, 1)}
    assert list(imdb["split"].unique()) == ["train", "test"]  # train rows first


def test_real_archive_ratings_match_labels(imdb):
    assert imdb.loc[imdb.label == 1, "rating"].between(7, 10).all()
    assert imdb.loc[imdb.label == 0, "rating"].between(1, 4).all()
    parsed = imdb["review_id"].str.extract(r"^(train|test)/(pos|neg)/(\d+)_(\d+)$")
    assert (parsed[0] == imdb["split"]).all()
    assert ((parsed[1] == "pos").astype(int) == imdb["label"]).all()
    assert (parsed[3].astype(int) == imdb["rating"]).all()
    assert imdb["text"].str.len().min() > 10


def _write_review(root, split, sentiment, rid, rating, text):
    folder = root / "aclImdb" / split / sentiment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rid}_{rating}.txt").write_text(text, encoding="utf-8")


@pytest.fixture
def toy_imdb(tmp_path):
    """A tiny aclImdb tree: 6 reviews per (split, label), plus unsup and extra files to skip."""
    root = tmp_path / "toy"
    for split in ("train", "test"):
        for i in range(6):
            _write_review(root, split, "pos", i, 7 + i % 4, f"{split} good film number {i} é")
            _write_review(root, split, "neg", i, 1 + i % 4, f"{split} bad film number {i}")
    _write_review(root, "train", "unsup", 99, 0, "unlabelled")
    (root / "aclImdb" / "README").write_text("readme")
    (root / "aclImdb" / "train" / "labeledBow.feat").write_text("0 0:1")
    return root


def test_directory_parent_and_archive_agree(toy_imdb, tmp_path):
    from_dir = load_imdb(toy_imdb / "aclImdb")
    from_parent = load_imdb(toy_imdb)
    archive = tmp_path / "toy.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(toy_imdb / "aclImdb", arcname="aclImdb")
    from_tar = load_imdb(archive)
    assert len(from_dir) == 24
    assert from_dir.equals(from_parent) and from_dir.equals(from_tar)
    assert not from_dir["review_id"].str.contains("unsup").any()
    row = from_dir.set_index("review_id").loc["train/pos/2_9"]
    assert (row["label"], row["rating"], row["text"]) == (1, 9, "train good film number 2 é")


def test_splits_argument(toy_imdb):
    df = load_imdb(toy_imdb, splits=("test",))
    assert set(df["split"]) == {"test"} and len(df) == 12
    assert len(load_imdb(toy_imdb, splits="train")) == 12
    with pytest.raises(ReproError, match="Unknown IMDB split"):
        load_imdb(toy_imdb, splits=("unsup",))


def test_per_class_is_balanced_and_deterministic(toy_imdb):
    a = load_imdb(toy_imdb, per_class=4, seed=1)
    assert a.groupby(["split", "label"]).size().tolist() == [4, 4, 4, 4]
    assert a.equals(load_imdb(toy_imdb, per_class=4, seed=1))
    others = [load_imdb(toy_imdb, per_class=4, seed=s)["review_id"].tolist() for s in range(2, 8)]
    assert any(o != a["review_id"].tolist() for o in others)
    # a group's sample does not depend on which other splits were loaded
    train_only = load_imdb(toy_imdb, splits=("train",), per_class=4, seed=1)
    assert train_only["review_id"].tolist() == a.loc[a.split == "train", "review_id"].tolist()
    assert len(load_imdb(toy_imdb, per_class=100)) == 24  # capped by what exists
    with pytest.raises(ReproError, match="per_class"):
        load_imdb(toy_imdb, per_class=0)
    # per-split sizes in one pass give the same samples as one load per split
    both = load_imdb(toy_imdb, per_class={"train": 4, "test": 2}, seed=1)
    test_only = load_imdb(toy_imdb, splits=("test",), per_class=2, seed=1)
    assert both["review_id"].tolist() == train_only["review_id"].tolist() + test_only["review_id"].tolist()
    assert len(load_imdb(toy_imdb, per_class={"train": 2, "test": None})) == 4 + 12


def test_truncated_real_archive_is_one_clear_error(shared_data, tmp_path):
    bad = tmp_path / "truncated.tar.gz"
    with open(shared_data / "imdb" / "aclImdb_labeled_50k_text.tar.gz", "rb") as f:
        bad.write_bytes(f.read(1_500_000))
    with pytest.raises(ReproError, match=re.escape(str(bad)) + ".*corrupt or truncated"):
        load_imdb(bad)


def test_garbage_missing_and_wrong_folder(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not a tar archive" * 100)
    with pytest.raises(ReproError, match="corrupt or truncated"):
        load_imdb(junk)
    with pytest.raises(ReproError, match="No IMDB reviews"):
        load_imdb(tmp_path / "does-not-exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReproError, match="No IMDB reviews"):
        load_imdb(tmp_path / "empty")
    wrong = tmp_path / "wrong" / "train"
    wrong.mkdir(parents=True)
    with pytest.raises(ReproError, match="holds no IMDB reviews"):
        load_imdb(tmp_path / "wrong")


def test_downloaded_official_archive_is_used_when_no_local_copy(tmp_path, monkeypatch, toy_imdb):
    """No local data: the loader falls back to the download cache (here pre-filled, offline)."""
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "nothing"))
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("REPRO_CACHE", str(cache))
    with tarfile.open(cache / "aclImdb_v1.tar.gz", "w:gz") as tar:
        tar.add(toy_imdb / "aclImdb", arcname="aclImdb")
    assert len(load_imdb()) == 24
    shutil.rmtree(cache)
