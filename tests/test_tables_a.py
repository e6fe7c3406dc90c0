from helpers.paper_a import head_recipes

"""Plumbing moved out of notebooks 02-04: Table A1, Figure A5's boxes, the natural image."""

import io
import tarfile

import numpy as np
import pandas as pd
from PIL import Image

from helpers.core.weights import ModelChoice
from helpers.data import flowers as data_flowers
from helpers.paper_a import sentiment_heads, tables_a


def test_table_a1_rows_beside_table_i():
    rc = head_recipes.recipe("alexnet", "book")
    runs = {"alexnet | book": ("alexnet", rc), "alexnet_random | book": ("alexnet_random", rc)}
    results = pd.DataFrame(
        [
            {
                "run": "alexnet | book",
                "row": "alexnet",
                "val_acc": 0.70,
                "val_acc_cumulative": 0.71,
                "test_acc": 0.69,
            },
            {
                "run": "alexnet | book",
                "row": "alexnet",
                "val_acc": 0.72,
                "val_acc_cumulative": 0.73,
                "test_acc": 0.71,
            },
            {
                "run": "alexnet_random | book",
                "row": "alexnet_random",
                "val_acc": 0.5,
                "val_acc_cumulative": 0.5,
                "test_acc": np.nan,
            },
            {
                "run": "linear probe: [CLS] vectors",
                "row": "linear probe: [CLS] vectors",
                "val_acc": 0.8,
                "val_acc_cumulative": np.nan,
                "test_acc": 0.79,
            },
        ]
    )
    choices = [ModelChoice("alexnet", "mobilenet_v2 features[:7] (stride 8)", True, "ImageNet", "absent")]
    t = tables_a.table_a1(
        results, runs, choices, split="leakfree", cached=True, evaluate_test=True, has_test=True, record={}
    )
    assert list(dict.fromkeys(t.columns.get_level_values(0))) == [
        "paper",
        "full run (none recorded yet)",
        "this build",
    ]
    paper, here = t["paper"], t["this build"]
    assert list(paper["paper's model"]) == ["alexnet", "(not in the paper)", "(not in the paper)"]
    assert here["val. acc., final epoch"].iloc[0] == f"0.710 ± {np.std([0.70, 0.72], ddof=1):.3f}"
    assert here["model that ran"].iloc[0].endswith("(stand-in)") and here["model that ran"].iloc[1].endswith(
        "random init"
    )
    t1 = head_recipes.PAPER_TABLE_I["alexnet"]
    assert (
        paper["paper val. acc. (Table I)"].iloc[0] == f"{t1.paper_val_acc:.2f} ± {t1.paper_val_acc_std:.2f}"
    )
    assert (
        here["test acc."].iloc[1] == "–"
        and here["recipe"].iloc[2] == "logistic regression (book's probe)"
        and here["pre-processing"].iloc[0].endswith("(cached)")
    )
    no_test = tables_a.table_a1(
        results, runs, choices, split="paper", cached=True, evaluate_test=True, has_test=False, record={}
    )
    assert set(no_test[("this build", "test acc.")]) == {"no test part (split: paper)"}
    assert set(here["collapsed seeds"]) == {"–"}  # results without majority shares
    shares = results.assign(
        val_majority_share=[0.99, 0.6, 0.5, 0.5][: len(results)], seed=range(len(results))
    )
    flagged = tables_a.table_a1(
        shares, runs, choices, split="leakfree", cached=True, evaluate_test=True, has_test=True, record={}
    )
    assert flagged[("this build", "collapsed seeds")].iloc[0].startswith("seed 0 (0.99)")
    # the recorded full run: its own runs (another recipe) come last, with the paper's value beside them
    rec = {
        "tables": {
            "A1": [
                {"row": "alexnet | book", "val_acc": {"mean": 0.8, "std": 0.01}, "seeds": [0, 1]},
                {
                    "row": "vgg16 | paper recipe | book head",
                    "val_acc": {"mean": 0.79, "std": None},
                    "seeds": [0],
                },
            ]
        }
    }
    both = tables_a.table_a1(
        results, runs, choices, split="leakfree", cached=True, evaluate_test=True, has_test=True, record=rec
    )
    full = both["full run (recorded)"]
    assert list(both.index) == [*runs, "linear probe: [CLS] vectors", "vgg16 | paper recipe | book head"]
    assert full["val. acc., final epoch"].tolist() == ["0.800 ± 0.010", "–", "–", "0.790"]
    assert both.loc["vgg16 | paper recipe | book head", ("paper", "paper's model")] == "vgg16"
    assert both.loc["vgg16 | paper recipe | book head", ("this build", "recipe")] == "–"


def test_diagram_stages_follow_the_head():
    book = sentiment_heads.diagram_stages(
        "book",
        (32, 19, 19),
        text_model="bert-base-uncased",
        extractor="mobilenet_v2 features[:7] (stride 8)",
        image_px=50,
        size=150,
        upsample_mode="bilinear",
    )
    paper = sentiment_heads.diagram_stages(
        "paper",
        (32, 19, 19),
        text_model="bert-base-uncased",
        extractor="alexnet features[0:5]",
        image_px=50,
        size=150,
        upsample_mode="nearest",
    )
    assert book[4] == ("frozen slice\nmobilenet_v2 features[:7]", "32 x 19 x 19", "frozen")
    assert [s[0] for s in book[5:9]] == [
        "standardise\n(train mean / std)",
        "auto-encoder\nencoder",
        "auto-encoder\ndecoder",
        "flatten",
    ]
    assert paper[-3][1] == "3200 -> 700" and paper[-1][1] == "50 -> 2 (neg/pos)"
    head = sentiment_heads.make_head("book", (32, 19, 19))
    n_flat = head.classifier.net[1].in_features
    assert book[8][1] == f"{n_flat} values" and book[-3][1].startswith(f"{n_flat} -> ")


def test_first_grey_thumbnail(tmp_path):
    assert data_flowers.first_grey_thumbnail(tmp_path) is None
    (tmp_path / "flowers").mkdir()
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 6, 3), 255, dtype=np.uint8)).save(buf, format="JPEG")
    with tarfile.open(tmp_path / "flowers" / data_flowers.THUMBS_TAR, "w") as tf:
        info = tarfile.TarInfo("image_00001.jpg")
        info.size = len(buf.getvalue())
        tf.addfile(info, io.BytesIO(buf.getvalue()))
    img = data_flowers.first_grey_thumbnail(tmp_path)
    assert img.shape == (4, 6) and img.dtype == np.float32 and img.max() <= 1.0 and img.min() > 0.9
