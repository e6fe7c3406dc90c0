"""Paper B's baseline of the models as they ship (issue 14, item 5): notebook 06 embeds with
``epochs=0`` (helpers/paper_b/finetune_tasks.py), notebook 07 fits the same projection on those
embeddings and tables what fine-tuning buys (retrieval_store, tables_b), the answers give it a
verdict (book.answers)."""

import json

import numpy as np
import pandas as pd
import torch
from test_answers import S, _record

from helpers.book import answers
from helpers.core import tasks
from helpers.core.weights import ModelChoice
from helpers.models import finetune, training
from helpers.paper_b import finetune_report, finetune_tasks, retrieval_data, retrieval_store, tables_b


def test_zero_epochs_leave_the_model_as_it_ships():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    loader = [(x, y)]
    history = training.fit(model, loader, loader, torch.optim.SGD(model.parameters(), lr=1.0), epochs=0)
    assert history["epoch"] == [] and history["best_epoch"] is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_notebook06_runs_every_model_as_it_ships_beside_the_fine_tuned_files(tmp_path, monkeypatch):
    choice = ModelChoice("resnet18", "fake", True, "test", "")
    calls = []

    def fake_image(name, image_set, split, *, checkpoint, **recipe):
        calls.append(("image", name, checkpoint.name, recipe["epochs"], recipe["lr"]))
        return np.full((len(split), 3), recipe["epochs"], dtype=float), {"val_acc": []}, choice

    def fake_text(name, table, split, *, checkpoint, **recipe):
        calls.append(("text", name, checkpoint.name, recipe["epochs"], recipe["lr"]))
        return np.zeros((len(table), 2)), {"val_acc": []}, choice

    monkeypatch.setattr(finetune, "finetuned_image_embeddings", fake_image)
    monkeypatch.setattr(finetune, "finetuned_caption_embeddings", fake_text)
    split = pd.DataFrame({"image": ["a", "b"], "class_id": [1, 2], "part": ["train", "test"]})
    captions = {"cub": pd.DataFrame({"caption": ["x", "y", "z"]}), "flowers": None}
    recipes = {"image": {"epochs": 2, "lr": 1e-3}, "text": {"epochs": 3, "lr": 2e-5}}
    shipped = finetune_tasks.run_shipped_jobs(
        tasks.InProcess(),
        {"cub": "cub images", "flowers": "flower images"},
        {"cub": split, "flowers": split},
        ["resnet18"],
        "distilbert-base-uncased",
        captions,
        tmp_path,
        recipes,
        None,
    )
    assert list(shipped) == [("image", "cub", "resnet18"), ("image", "flowers", "resnet18"), ("text", "cub")]
    assert calls == [
        ("image", "resnet18", "ckpt_cub_resnet18_shipped.pt", 0, 1e-3),
        ("image", "resnet18", "ckpt_flowers_resnet18_shipped.pt", 0, 1e-3),
        ("text", "distilbert-base-uncased", "ckpt_text_cub_shipped.pt", 0, 2e-5),
    ]
    assert recipes["image"]["epochs"] == 2  # the fine-tuning recipe itself is unchanged
    assert sorted(p.name for p in tmp_path.glob("*.npy")) == [
        "image_cub_resnet18_shipped.npy",
        "image_flowers_resnet18_shipped.npy",
        "text_cub_distilbert-base-uncased_shipped.npy",
    ]
    text = finetune_report.describe_shipped(shipped)
    assert text == "cub: resnet18 and the caption encoder, as they ship\nflowers: resnet18, as they ship"
    assert "shipped_baseline = False" in finetune_report.describe_shipped({})

    # notebook 07 reads the shipped files under the same model names; TF-IDF is shared
    np.save(tmp_path / "image_cub_resnet18.npy", np.ones((2, 3)))
    from scipy import sparse

    sparse.save_npz(tmp_path / "text_cub_tfidf.npz", sparse.csr_matrix(np.eye(3)))
    split.to_csv(tmp_path / "split_cub.csv", index=False)
    captions["cub"].to_csv(tmp_path / "captions_cub.csv", index=False)
    info = {"image_models": ["resnet18"], "text_model": "distilbert-base-uncased", "captions": {"cub": True}}
    base = retrieval_data.load_embeddings(tmp_path, "cub", info, variant="_shipped")
    assert list(base["images"]) == ["resnet18"] and not base["images"]["resnet18"].any()
    assert list(base["texts"]) == ["distilbert-base-uncased", "tfidf"]
    tuned = retrieval_data.load_embeddings(tmp_path, "cub", info)
    assert tuned["images"]["resnet18"].all() and "distilbert-base-uncased" not in tuned["texts"]


def _metrics(top1):
    return pd.DataFrame(
        {"text": ["DistilBERT", "TF-IDF"], "image": ["VGG", "VGG"], "top1": top1, "top5": [0.5, 0.6]}
    )


def test_notebook07_stores_the_baseline_and_tables_the_gain(tmp_path):
    results = {"cub": _metrics([0.30, 0.20]), "flowers": pd.DataFrame()}
    shipped = {"cub": _metrics([0.10, 0.15])}
    table = tables_b.shipped_table(results, shipped)
    assert list(table["Top-1 gain (points)"]) == [20.0, 5.0]
    assert table.index[0] == ("cub", "DistilBERT", "VGG")
    assert tables_b.shipped_table(results, {}).empty
    for d in ("cub", "flowers"):
        (tmp_path / f"metrics_{d}.csv").write_text("")
    shipped["cub"].to_csv(tmp_path / "metrics_shipped_cub.csv", index=False)
    loaded = retrieval_store.load_shipped(tmp_path)
    assert list(loaded) == ["cub"]
    pd.testing.assert_frame_equal(loaded["cub"], shipped["cub"])
    json.dumps(table.reset_index().to_dict("records"))  # plain values (the record keeps them)


def test_what_fine_tuning_buys_gets_a_verdict_or_says_the_baseline_is_missing():
    rec = _record(b_seeds=3)
    for r in rec["tables"]["B1"]:
        r["queries"] = 35_560
    rec["tables"]["B1_shipped"] = [
        {**r, "top1": S([0.05]), "per_seed": [{"seed": 0, "top1": 0.05}]} for r in rec["tables"]["B1"]
    ]
    text = answers.paper_b(rec)
    assert "**What does fine-tuning buy?** TF-IDF-VGG Top-1 0.102 fine-tuned against 0.050" in text
    assert "with the models as they ship: yes (+5.2 points" in text
    old = answers.paper_b(_record())
    assert "**What does fine-tuning buy?** Not determined: the recorded run has no baseline" in old
