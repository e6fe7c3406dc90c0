"""helpers/paper_a/table_a1_runs.py: notebook 04's runs and probes, on generated data."""

import numpy as np
import pytest

from helpers.paper_a import head_recipes, table_a1_runs


def _data(n=48, shape=(4, 8, 8)):
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * (n // 2))
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    x[:, :, 2:6, 2:6] += np.where(y[:, None, None, None] == 1, 2.0, -2.0)
    idx = {"train": np.arange(0, 32), "val": np.arange(32, 40), "test": np.arange(40, 48)}
    return x, y, idx


def test_train_runs_one_line_per_run_and_seed_with_the_recipe(tmp_path):
    x, y, idx = _data()
    rc = head_recipes.recipe("alexnet", "book", epochs=2, batch_size=8)
    runs = {"alexnet | book recipe | book head": ("alexnet", rc)}
    results, histories = table_a1_runs.train_runs(
        runs,
        [0, 1],
        lambda row: (x, None),
        idx,
        y,
        device="cpu",
        scratch=tmp_path,
        scale=3,
        znorm=None,
        evaluate_test=True,
    )
    assert [(r["run"], r["seed"], r["recipe"], r["head"]) for r in results] == [
        ("alexnet | book recipe | book head", 0, "book", "book"),
        ("alexnet | book recipe | book head", 1, "book", "book"),
    ]
    for r, h in zip(results, histories["alexnet | book recipe | book head"]):
        assert r["val_acc"] == h["val_acc"][-1] and r["epochs"] == 2
        assert r["val_acc_cumulative"] == pytest.approx(np.mean(h["val_acc"]))
        assert 0.0 <= r["test_acc"] <= 1.0
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == [
        "alexnet_book-recipe_book-head_seed0.pt",
        "alexnet_book-recipe_book-head_seed1.pt",
    ]


def test_no_test_part_gives_no_test_accuracy(tmp_path):
    x, y, idx = _data()
    idx["test"] = np.array([], dtype=int)
    rc = head_recipes.recipe("vgg16", "book", epochs=1, batch_size=8)
    results, _ = table_a1_runs.train_runs(
        {"k": ("vgg16", rc)},
        [0],
        lambda row: (x, None),
        idx,
        y,
        device="cpu",
        scratch=tmp_path,
        scale=3,
        znorm=None,
        evaluate_test=True,
    )
    assert np.isnan(results[0]["test_acc"])
    probes = table_a1_runs.linear_probes({"probe": x.reshape(len(x), -1)}, y, idx)
    assert np.isnan(probes[0]["test_acc"])


def test_linear_probe_learns_a_separable_signal_and_not_noise():
    x, y, idx = _data()
    noise = np.random.default_rng(1).normal(size=(len(y), 20))
    probes = table_a1_runs.linear_probes({"signal": x.reshape(len(x), -1), "noise": noise}, y, idx)
    by = {p["run"]: p for p in probes}
    assert by["signal"]["val_acc"] == 1.0 and by["signal"]["test_acc"] == 1.0
    assert by["noise"]["val_acc"] < 0.9
    assert by["signal"]["recipe"] == "–" and by["signal"]["epochs"] == 0


def test_every_seed_records_its_majority_share_and_a_collapse_is_flagged(tmp_path):
    x, y, idx = _data()
    rc = head_recipes.recipe(
        "alexnet", "paper", epochs=1, batch_size=8, head="paper+std", znorm="global", frozen_bn="eval"
    )
    key = "alexnet | paper recipe | paper+std head"
    results, histories = table_a1_runs.train_runs(
        {key: ("alexnet", rc)},
        [0],
        lambda row: (x, None),
        idx,
        y,
        device="cpu",
        scratch=tmp_path,
        scale=3,
        znorm=None,
        evaluate_test=False,
    )
    r = results[0]
    assert r["head"] == "paper+std" and r["n_val"] == len(idx["val"])
    assert 0.5 <= r["val_majority_share"] <= 1.0
    assert set(histories[key][0]) == set(table_a1_runs.HISTORY_KEYS)
    lines = [
        {"run": "a", "seed": 0, "val_majority_share": 0.99},
        {"run": "a", "seed": 1, "val_majority_share": 0.60},
        {"run": "b", "seed": 0, "val_majority_share": 0.95},
        {"run": "c", "seed": 0},  # an old results.csv: no share, nothing flagged
    ]
    assert table_a1_runs.collapsed_seeds(lines, "a") == [0]
    assert table_a1_runs.collapsed_seeds(lines, "b") == [0]
    assert table_a1_runs.collapsed_seeds(lines, "c") == []
    probes = table_a1_runs.linear_probes({"p": x.reshape(len(x), -1)}, y, idx)
    assert probes[0]["val_majority_share"] == 0.5  # balanced validation part, perfect probe


def test_heads_for_each_recipe_its_own_head_unless_the_run_says_so():
    assert head_recipes.heads_for("paper", []) == [None]
    assert head_recipes.heads_for("book", ["own", "paper:paper+std"]) == [None]
    assert head_recipes.heads_for("paper", ["own", "paper:paper+std"]) == [None, "paper+std"]
    assert head_recipes.heads_for("paper", ["book", "paper"]) == ["book", "paper"]
    with pytest.raises(Exception, match="unknown head"):
        head_recipes.heads_for("paper", ["keras"])
    with pytest.raises(Exception, match="unknown recipe"):
        head_recipes.heads_for("paper", ["tf:book"])


def test_plan_runs_every_row_recipe_and_head_with_the_cached_preprocessing():
    """Notebook 04's smoke grid: the random control row, the paper head on its rows only, and on
    cached features notebook 03's pre-processing whatever the recipe says."""
    meta = {"extractors": ["alexnet", "vgg16"], "random_control": "alexnet", "cache_features": True}
    kw = dict(paper_head_rows=["alexnet"], epochs=1, batch_size=None, lr_autoencoder=None, lr_classifier=None)
    runs = head_recipes.plan_runs(
        meta, ["book", "paper"], ["own", "paper:paper+std"], include_random_control=True, **kw
    )
    assert list(runs) == [
        "alexnet | book recipe | book head",
        "vgg16 | book recipe | book head",
        "alexnet_random | book recipe | book head",
        "alexnet | paper recipe | paper head",
        "alexnet_random | paper recipe | paper head",
        "alexnet | paper recipe | paper+std head",
        "alexnet_random | paper recipe | paper+std head",
    ]
    row, rc = runs["alexnet_random | paper recipe | paper head"]
    assert row == "alexnet_random" and rc.extractor == "alexnet" and rc.epochs == 1
    assert (rc.upsample_mode, rc.znorm, rc.frozen_bn) == ("bilinear", "global", "eval")
    assert rc.lr_autoencoder == head_recipes.PAPER_TABLE_I["alexnet"].lr_autoencoder
    end_to_end = head_recipes.plan_runs(
        {**meta, "cache_features": False}, ["paper"], [], include_random_control=False, **kw
    )
    assert list(end_to_end) == ["alexnet | paper recipe | paper head"]
    rc = end_to_end["alexnet | paper recipe | paper head"][1]
    assert (rc.upsample_mode, rc.znorm, rc.frozen_bn) == ("nearest", "batch", "train")
    table = head_recipes.runs_table(runs)
    assert table["run"].tolist() == list(runs) and not {"extractor", "source", "head"} & set(table.columns)
    assert "patience" in table.columns
    params = head_recipes.runs_params(end_to_end)
    assert params == {"alexnet | paper recipe | paper head": ["alexnet", rc.as_dict()]}


def test_probe_features_flatten_the_cls_stacks_and_the_images(tmp_path):
    np.save(tmp_path / "cls.npy", np.ones((4, 2, 3), np.float32))
    np.save(tmp_path / "images.npy", np.zeros((4, 5, 5), np.float32))
    feats = table_a1_runs.probe_features(tmp_path, tmp_path)
    assert {k: v.shape for k, v in feats.items()} == {
        "linear probe: [CLS] vectors": (4, 6),
        "linear probe: DeepInsight pixels": (4, 25),
    }
