"""Class-disjoint splits of Paper B (helpers.data.class_split)."""

import numpy as np
import pandas as pd
import pytest

from helpers.core.config import data_source
from helpers.core.errors import ReproError
from helpers.data import class_split as splits


def _table(n_classes=10, per_class=10):
    rows = [
        {"image_id": i, "image": f"c{c}/img{i}", "class_id": c, "class_name": f"class {c}"}
        for i, c in enumerate(np.repeat(np.arange(n_classes), per_class))
    ]
    return pd.DataFrame(rows)


def test_class_disjoint_split_is_seeded_disjoint_and_70_30():
    tr, te = splits.class_disjoint_split(range(200), 0.3, seed=0)
    assert len(tr) == 140 and len(te) == 60
    assert not set(tr) & set(te) and set(tr) | set(te) == set(range(200))
    assert splits.class_disjoint_split(range(200), 0.3, seed=0) == (tr, te)
    assert splits.class_disjoint_split(range(200), 0.3, seed=1) != (tr, te)
    # the paper's rounding: round(102 * 0.7) = 71 training classes for flowers
    assert len(splits.class_disjoint_split(range(102), 0.3)[0]) == 71


def test_stratified_holdout_takes_a_fifth_of_every_class():
    labels = np.repeat([0, 1, 2], [10, 5, 1])
    val = splits.stratified_holdout(labels, 0.2, seed=0)
    assert val[labels == 0].sum() == 2 and val[labels == 1].sum() == 1
    assert val[labels == 2].sum() == 0  # a single image stays in train
    assert (splits.stratified_holdout(labels, 0.2, seed=0) == val).all()


def test_make_split_parts_are_class_disjoint():
    s = splits.make_split(_table(), seed=3)
    assert set(s["part"]) == {"train", "val", "test"}
    test_classes = set(s.loc[s.part == "test", "class_id"])
    train_classes = set(s.loc[s.part != "test", "class_id"])
    assert not test_classes & train_classes
    assert len(test_classes) == 3
    # validation images come from every training class
    assert set(s.loc[s.part == "val", "class_id"]) == train_classes
    assert (
        s.groupby("class_id")["part"].apply(lambda p: (p == "val").sum()).loc[sorted(train_classes)] == 2
    ).all()


def test_subset_table_is_deterministic():
    t = _table(20, 30)
    a = splits.subset_table(t, n_classes=5, images_per_class=4, seed=1)
    b = splits.subset_table(t, n_classes=5, images_per_class=4, seed=1)
    assert a.equals(b) and len(a) == 20 and a["class_id"].nunique() == 5
    with pytest.raises(ReproError):
        splits.subset_table(t, n_classes=1)


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ReproError):
        splits.class_disjoint_split(range(10), 1.5)
    with pytest.raises(ReproError):
        splits.make_split(_table(), scheme="random")
    with pytest.raises(ReproError):
        splits.make_split(_table().drop(columns="class_name"))


@pytest.mark.skipif(
    not (data_source() / "cub" / "meta" / "reed_splits").is_dir(), reason="real data not available"
)
def test_reed_zero_shot_split_files_on_real_data():
    tr, te = splits.reed_zero_shot_classes("cub")
    assert len(tr) == 150 and len(te) == 50 and not set(tr) & set(te)
    assert min(tr + te) == 0 and max(tr + te) == 199
    ftr, fte = splits.reed_zero_shot_classes("flowers")
    assert len(ftr) == 82 and len(fte) == 20 and fte[0] == 0  # class_00001 -> id 0
    s = splits.make_split(_table(200, 2), scheme="reed", dataset="cub")
    assert set(s.loc[s.part == "test", "class_id"]) == set(te)
