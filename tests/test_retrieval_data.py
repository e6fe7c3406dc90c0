"""Paper B's data plumbing between notebooks 05-07 (helpers/paper_b/retrieval_data.py) and the pair
evaluation of notebook 07 (helpers.paper_b.retrieval.evaluate_pairs), on generated and real data."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from helpers.core.errors import ReproError
from helpers.core.weights import ModelChoice
from helpers.data import class_split
from helpers.paper_b import retrieval, retrieval_data, tables_b


def toy_split():
    # classes 3, 5 train (one val image each), class 8 and 9 test
    return pd.DataFrame(
        {
            "image": ["a1", "a2", "b1", "b2", "c1", "c2", "d1"],
            "class_id": [3, 3, 5, 5, 8, 8, 9],
            "part": ["train", "val", "train", "val", "test", "test", "test"],
        }
    )


def toy_captions():
    return {k: [f"{k} caption {i}" for i in range(10)] for k in toy_split().image}


def test_caption_table_keeps_the_first_captions_and_the_image_part():
    t = retrieval_data.caption_table(toy_split(), toy_captions(), captions_per_image=2)
    assert list(t.columns) == retrieval_data.CAPTION_COLUMNS
    assert len(t) == 14 and t.image.tolist()[:4] == ["a1", "a1", "a2", "a2"]
    assert t.caption.tolist()[:2] == ["a1 caption 0", "a1 caption 1"]
    assert t.set_index(["image", "caption_idx"]).loc[("c2", 1), "part"] == "test"
    assert len(retrieval_data.caption_table(toy_split(), toy_captions())) == 70  # all ten


def test_caption_table_refuses_images_without_captions():
    caps = toy_captions()
    caps["b2"] = []
    with pytest.raises(ReproError, match="1 of 7 images have no captions.*'b2'"):
        retrieval_data.caption_table(toy_split(), caps)
    with pytest.raises(ReproError, match="at least 1"):
        retrieval_data.caption_table(toy_split(), toy_captions(), captions_per_image=0)


def test_caption_table_on_real_cub_captions(shared_data):
    from helpers.data import cub as data_cub

    cub = data_cub.load_cub(shared_data)
    split = cub.table.head(12).assign(part="train")[["image", "class_id", "part"]]
    t = retrieval_data.caption_table(split, data_cub.load_cub_captions(shared_data), captions_per_image=3)
    assert len(t) == 36 and t.caption.str.len().min() > 10
    assert (t.caption == t.caption.str.lower()).all()  # Reed's tokenised form


def test_label_map_numbers_only_the_training_classes():
    assert class_split.label_map(toy_split()) == {3: 0, 5: 1}


def test_cached_embedding_computes_once_then_reuses(tmp_path):
    calls = []
    choice = ModelChoice("resnet18", "MobileNetV2 (128 px)", True, "ImageNet1K_V1", "no weights")

    def compute():
        calls.append(1)
        return (
            np.ones((4, 3), dtype=np.float64),
            {"epoch": [0, 1], "val_acc": np.array([0.5, 0.75]), "best_epoch": 1},
            choice,
        )

    first = retrieval_data.cached_embedding(tmp_path, "image_cub_resnet18", compute)
    again = retrieval_data.cached_embedding(tmp_path, "image_cub_resnet18", compute)
    assert len(calls) == 1 and not first.reused and again.reused
    assert again.dim == first.dim == 3 and again.choice == choice
    assert again.history["val_acc"] == [0.5, 0.75] and again.history["best_epoch"] == 1
    assert np.load(tmp_path / "image_cub_resnet18.npy").dtype == np.float32
    # a lost .json (interrupted write) means: compute again
    (tmp_path / "image_cub_resnet18.json").unlink()
    retrieval_data.cached_embedding(tmp_path, "image_cub_resnet18", compute)
    assert len(calls) == 2
    with pytest.raises(ReproError, match="2-D"):
        retrieval_data.cached_embedding(tmp_path, "bad", lambda: (np.ones(3), {}, choice))


def test_tfidf_embeddings_use_the_training_vocabulary_only():
    caps = pd.DataFrame(
        {"caption": ["red bird", "blue bird", "green frog"], "part": ["train", "val", "test"]}
    )
    x, vocab = retrieval_data.tfidf_embeddings(caps)
    assert vocab == 3 and x.shape == (3, 3)  # bird, blue, red; "green frog" unseen
    assert x[2].nnz == 0 and np.isclose(x[0].multiply(x[0]).sum(), 1.0)


def bigger_split():
    """8 training classes (one train and one val image each) and the test classes of toy_split."""
    train = pd.DataFrame(
        {
            "image": [f"t{c}_{j}" for c in range(10, 18) for j in range(2)],
            "class_id": [c for c in range(10, 18) for _ in range(2)],
            "part": ["train", "val"] * 8,
        }
    )
    return pd.concat([train, toy_split()[toy_split().part == "test"]], ignore_index=True)


def write_notebook06_files(folder, rng):
    """The files notebook 06 writes, for 2 image models, a dense text model and TF-IDF."""
    split = bigger_split()
    caps = retrieval_data.caption_table(
        split, {k: [f"{k} is a bird", f"{k} sings", f"{k}"] for k in split.image}
    )
    split.to_csv(folder / "split_cub.csv", index=False)
    caps.to_csv(folder / "captions_cub.csv", index=False)
    centres = rng.normal(size=(18, 6))
    images = {
        name: centres[split.class_id] + 0.05 * rng.normal(size=(len(split), 6))
        for name in ("vgg11_bn", "resnet18")
    }
    for name, emb in images.items():
        np.save(folder / f"image_cub_{name}.npy", emb)
    # text = an invertible linear image of the image vector: least squares maps it back exactly
    row = caps.image.map({k: i for i, k in enumerate(split.image)})
    np.save(
        folder / "text_cub_distilbert-base-uncased.npy", images["vgg11_bn"][row] @ rng.normal(size=(6, 6))
    )
    x, _ = retrieval_data.tfidf_embeddings(caps)
    sparse.save_npz(folder / "text_cub_tfidf.npz", x)
    choice = ModelChoice("vgg11_bn", "EfficientNet-Lite0", True, "ImageNet", "stand-in").as_row()
    info = {
        "image_models": ["vgg11_bn", "resnet18"],
        "text_model": "distilbert-base-uncased",
        "captions": {"cub": True, "flowers": False},
        "choices": {"cub/vgg11_bn": choice, "cub/resnet18": {**choice, "used": "MobileNetV2"}},
        "text_choice": {**choice, "requested": "distilbert-base-uncased", "used": "MiniLM"},
    }
    (folder / "info.json").write_text(json.dumps(info))
    return info


def test_load_embeddings_and_evaluate_every_pair(tmp_path):
    info = write_notebook06_files(tmp_path, np.random.default_rng(0))
    data = retrieval_data.load_embeddings(tmp_path, "cub", info)
    assert set(data["texts"]) == {"distilbert-base-uncased", "tfidf"}
    assert sparse.issparse(data["texts"]["tfidf"]) and len(data["captions"]) == 57
    results, projections = retrieval.evaluate_pairs(data, reed_k=50, projection="lstsq")
    assert len(results) == 4 and set(projections) == {(t, i) for t in data["texts"] for i in data["images"]}
    dense = results.set_index(["text model", "image model"]).loc["distilbert-base-uncased"]
    assert dense.loc["vgg11_bn", "top1"] == 1.0  # text is a linear image of the VGG vector
    assert dense.loc["resnet18", "top1"] > 0.5  # of the same class centres, other noise
    # k of Reed's AP@50 is not lowered to the smallest class: min(50, test images); small classes counted
    assert (results.reed_k == 3).all() and (results.reed_under_k >= 1).all()
    assert (results.queries == 9).all() and (results.images == 3).all()
    assert set(results.text) == {"DistilBERT", "TF-IDF"} and (results.projection == "lstsq").all()
    mlp, _ = retrieval.evaluate_pairs(data, projection="mlp")
    comparison = retrieval.projection_comparison({"lstsq": results, "mlp": mlp})
    assert comparison.shape == (4, 8) and ("fit_s", "mlp") in comparison.columns
    rec = {"tables": {"B1": [{"text": "TF-IDF", "image": "ResNet", "top1": {"mean": 0.12, "std": 0.01}}]}}
    table = tables_b.table_beside_paper(results, "cub", info, record=rec)
    groups = list(dict.fromkeys(table.columns.get_level_values(0)))
    assert groups == ["paper", "full run (recorded)", "this build"]
    assert (
        table.loc[("DistilBERT", "VGG"), ("this build", "models that ran")] == "MiniLM → EfficientNet-Lite0"
    )
    assert table.loc[("DistilBERT", "VGG"), ("this build", "top1")] == 1.0
    assert table.loc[("TF-IDF", "ResNet"), ("paper", "top1")] == 0.10
    assert table.loc[("TF-IDF", "ResNet"), ("full run (recorded)", "top1")] == "0.120 ± 0.010"
    empty = tables_b.table_beside_paper(pd.DataFrame(), "flowers", info, record={})
    assert (empty[("this build", "top1")] == "–").all() and len(empty) == 6


def test_load_embeddings_checks_rows_and_skips_missing_captions(tmp_path):
    info = write_notebook06_files(tmp_path, np.random.default_rng(1))
    pd.read_csv(tmp_path / "split_cub.csv").to_csv(tmp_path / "split_flowers.csv", index=False)
    for name in info["image_models"]:
        np.save(tmp_path / f"image_flowers_{name}.npy", np.zeros((19, 6)))
    flowers = retrieval_data.load_embeddings(tmp_path, "flowers", info)
    assert flowers["captions"] is None and flowers["texts"] == {}
    assert retrieval.evaluate_pairs(flowers)[0].empty
    np.save(tmp_path / "image_cub_vgg11_bn.npy", np.zeros((5, 6)))
    with pytest.raises(ReproError, match="5 rows but the split has 19"):
        retrieval_data.load_embeddings(tmp_path, "cub", info)


def test_chance_top1_by_hand():
    split = toy_split()  # test images: class 8 twice, class 9 once
    caps = pd.DataFrame({"class_id": [8, 9, 9, 3], "part": ["test", "test", "test", "train"]})
    # captions of class 8 hit with 2/3, of class 9 with 1/3: (2/3 + 1/3 + 1/3) / 3
    assert retrieval.chance_top1(split, caps) == pytest.approx(4 / 9)
    assert np.isnan(retrieval.chance_top1(split, None))


def test_split_class_distribution_colours_this_runs_classes():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.paper_b import figures_b

    class Images:  # the part of an ImageSet the figure reads
        table = pd.DataFrame({"class_id": [0, 0, 0, 1, 1, 2], "class_name": list("aaabbc")})

    split = pd.DataFrame({"image": ["x", "y"], "class_id": [0, 2], "part": ["val", "test"]})
    fig = figures_b.split_class_distribution(Images(), split, "toy")
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [3, 2, 1]  # a, b, c sorted by size
    colours = [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars]
    assert colours == ["#4c72b0", "#c8c8c8", "#dd8452"]  # train, unused, test
