"""Paper B's Table B1 over fine-tuning seeds (issue 14, item 5): notebook 06 fine-tunes every model
again per seed (helpers/paper_b/finetune_tasks.run_seed_jobs), notebook 07 scores each seed
(retrieval.evaluate_seeds) and stores them (retrieval_store), the record keeps them per seed
(book.record_tables.table_b) and the rule decides whether the best pair is really ahead
(book.answers.ranking_text)."""

import numpy as np
import pandas as pd
import pytest
from test_retrieval_store import toy_data

from helpers.book import answers, record_tables
from helpers.core import tasks
from helpers.core.weights import ModelChoice
from helpers.models import finetune
from helpers.paper_b import finetune_tasks, retrieval, retrieval_data, retrieval_store, tables_b


def test_every_model_is_fine_tuned_again_with_each_seed(tmp_path, monkeypatch):
    choice = ModelChoice("resnet18", "fake", True, "test", "")
    calls = []

    def fake_image(name, image_set, split, *, checkpoint, **recipe):
        calls.append((checkpoint.name, recipe["seed"], recipe["epochs"]))
        return np.full((len(split), 3), recipe["seed"], dtype=float), {"val_acc": []}, choice

    def fake_text(name, table, split, *, checkpoint, **recipe):
        calls.append((checkpoint.name, recipe["seed"], recipe["epochs"]))
        return np.full((len(table), 2), recipe["seed"], dtype=float), {"val_acc": []}, choice

    monkeypatch.setattr(finetune, "finetuned_image_embeddings", fake_image)
    monkeypatch.setattr(finetune, "finetuned_caption_embeddings", fake_text)
    split = pd.DataFrame({"image": ["a", "b"], "class_id": [1, 2], "part": ["train", "test"]})
    recipes = {"image": {"epochs": 2, "seed": 0}, "text": {"epochs": 1, "seed": 0}}
    runs = finetune_tasks.run_seed_jobs(
        tasks.InProcess(),
        {"cub": "cub images"},
        {"cub": split},
        ["resnet18"],
        "distilbert-base-uncased",
        {"cub": pd.DataFrame({"caption": ["x", "y", "z"]})},
        tmp_path,
        recipes,
        None,
        [1, 2],
    )
    assert list(runs) == [1, 2] and list(runs[1]) == [("image", "cub", "resnet18"), ("text", "cub")]
    assert calls == [
        ("ckpt_cub_resnet18_seed1.pt", 1, 2),
        ("ckpt_text_cub_seed1.pt", 1, 1),
        ("ckpt_cub_resnet18_seed2.pt", 2, 2),
        ("ckpt_text_cub_seed2.pt", 2, 1),
    ]
    assert recipes["image"]["seed"] == 0  # the first seed's recipe is unchanged
    assert np.load(tmp_path / "image_cub_resnet18_seed2.npy").max() == 2.0
    assert retrieval_data.seed_variant(2) == "_seed2"


def test_each_seed_is_scored_stored_recorded_and_judged(tmp_path):
    rng = np.random.default_rng(0)
    base = toy_data(rng)
    second = toy_data(np.random.default_rng(1))  # another seed: other embeddings, same split
    data = {"": base, "_seed1": {**base, "images": second["images"], "texts": second["texts"]}}
    first, _ = retrieval.evaluate_pairs(base, reed_k=3)
    both = retrieval.evaluate_seeds(lambda v: data[v], [0, 1], first, reed_k=3)
    assert both.seed.tolist() == [0, 1] and both.loc[0].equals(first.assign(seed=0).loc[0])
    again, _ = retrieval.evaluate_pairs(data["_seed1"], reed_k=3)
    assert both.top1.iloc[1] == again.top1.iloc[0]

    retrieval_store.write(
        tmp_path, {"cub": first, "flowers": pd.DataFrame()}, {"cub": {}, "flowers": {}}, pd.DataFrame(),
        info06={"image_models": [], "text_model": "t", "choices": {}}, chance_top1={}, profile="smoke",
        projection="lstsq", rcond=None, seed_results={"cub": both},
    )  # fmt: skip
    pd.testing.assert_frame_equal(retrieval_store.load_seeds(tmp_path)["cub"], both, check_exact=True)
    rows = record_tables.table_b(tmp_path, "cub")
    assert [s["seed"] for s in rows[0]["per_seed"]] == [0, 1]
    assert rows[0]["top1"]["mean"] == pytest.approx(both.top1.mean())
    table = tables_b.seeds_table({"cub": both})
    assert list(table.columns) == ["Top-1 seed 0", "Top-1 seed 1", "mean", "std"]


def _row(text, top1s, queries=1000):
    per_seed = [{"seed": s, "top1": v} for s, v in enumerate(top1s)]
    return {
        "text": text,
        "image": "ResNet",
        "top1": {"mean": float(np.mean(top1s))},
        "per_seed": per_seed,
        "queries": queries,
    }


def test_ranking_text_is_not_determined_within_noise_and_yes_beyond_it():
    close = answers.ranking_text([_row("A", [0.30, 0.32, 0.28]), _row("B", [0.29, 0.31, 0.30])])
    assert close.startswith(
        "the best pair by mean Top-1 over 3 fine-tuning seeds is A-ResNet, ahead of B-ResNet"
    )
    assert "not determined" in close
    far = answers.ranking_text([_row("A", [0.30, 0.31, 0.30], 30000), _row("B", [0.20, 0.21, 0.20], 30000)])
    assert "is it really ahead? yes" in far
    one = answers.ranking_text([_row("A", [0.3]), _row("B", [0.2])])
    assert "one seed" in one and "not determined" in one
