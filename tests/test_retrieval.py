"""Metrics and projection of Paper B (helpers.paper_b.retrieval), on hand-checked toy cases."""

import numpy as np
import pandas as pd
import pytest

from helpers.core.errors import ReproError
from helpers.paper_b import retrieval as R
from helpers.paper_b import tables_b


def test_top1_on_hand_counted_case():
    # queries of classes 0,0,1,2; retrieved 0,1,1,0 -> 2 of 4 correct
    assert R.top1_accuracy([0, 0, 1, 2], [0, 1, 1, 0]) == 0.5
    # first column of a neighbour matrix is used
    assert R.top1_accuracy([0, 1], np.array([[0, 1], [0, 1]])) == 0.5


def test_topk_counts_a_hit_anywhere_in_the_first_k():
    y = [0, 1, 2]
    r = np.array([[1, 0, 2], [2, 2, 2], [0, 1, 2]])
    assert R.topk_accuracy(y, r, 1) == 0.0
    assert R.topk_accuracy(y, r, 2) == pytest.approx(1 / 3)
    assert R.topk_accuracy(y, r, 3) == pytest.approx(2 / 3)
    with pytest.raises(ReproError):
        R.topk_accuracy(y, r, 4)


def test_macro_precision_recall_f1_by_hand():
    y = [0, 0, 1, 1, 2, 2]
    r = [0, 0, 0, 1, 0, 2]
    # class 0: tp=2, predicted 4, true 2 -> p=.5 r=1 f=2/3
    # class 1: tp=1, predicted 1, true 2 -> p=1 r=.5 f=2/3
    # class 2: tp=1, predicted 1, true 2 -> p=1 r=.5 f=2/3
    p, rc, f = R.macro_precision_recall_f1(y, r)
    assert p == pytest.approx((0.5 + 1 + 1) / 3)
    assert rc == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert f == pytest.approx(2 / 3)


def test_macro_scores_give_zero_precision_to_classes_never_retrieved():
    # class 1 is never retrieved: precision 0 for it (zero_division=0)
    p, rc, f = R.macro_precision_recall_f1([0, 1], [0, 0])
    assert p == pytest.approx((0.5 + 0.0) / 2)
    assert rc == pytest.approx((1.0 + 0.0) / 2)
    assert f == pytest.approx((2 / 3 + 0) / 2)


def test_macro_scores_match_scikit_learn():
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(3)
    y, r = rng.integers(0, 6, 200), rng.integers(0, 7, 200)
    ours = R.macro_precision_recall_f1(y, r)
    theirs = precision_recall_fscore_support(y, r, average="macro", zero_division=0)[:3]
    assert ours == pytest.approx(theirs)


def test_projection_recovers_an_exact_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    w = rng.normal(size=(4, 3))
    y = x @ w + 0.5
    proj = R.fit_projection(x, y, normalize=False)
    assert np.allclose(proj.weights, w)
    assert np.allclose(proj.bias, 0.5)
    assert np.allclose(proj(x), y)


def test_projection_normalises_rows_and_checks_dimensions():
    proj = R.fit_projection(np.array([[2.0, 0], [0, 3.0], [1, 1]]), np.array([[1.0], [0], [1]]))
    # [2,0] and [4,0] are the same after L2 normalisation
    assert np.allclose(proj(np.array([[2.0, 0]])), proj(np.array([[4.0, 0]])))
    with pytest.raises(ReproError):
        proj(np.ones((1, 3)))
    with pytest.raises(ReproError):
        R.fit_projection(np.ones((3, 2)), np.ones((2, 2)))


def test_projection_accepts_sparse_text():
    from scipy import sparse

    x = sparse.csr_matrix(np.eye(3))
    proj = R.fit_projection(x, np.eye(3) * 2)
    assert np.allclose(proj(x), np.eye(3))  # targets are normalised to unit rows


def test_nearest_images_are_euclidean_and_ordered():
    images = np.array([[1.0, 0], [0, 1.0], [-1.0, 0]])
    d, idx = R.nearest_images(np.array([[0.9, 0.1], [-1.0, 0.2]]), images, k=2, normalize=False)
    assert idx.tolist() == [[0, 1], [2, 1]]
    assert d[0, 0] == pytest.approx(np.hypot(0.1, 0.1))
    _, idx1 = R.nearest_images(np.array([[0.0, 1.0]]), images, k=1, normalize=False)
    assert idx1.shape == (1, 1) and idx1[0, 0] == 1


def test_retrieval_metrics_from_neighbours():
    image_classes = np.array([5, 5, 7, 7, 9, 9])
    idx = np.array([[0, 2, 4, 1, 3], [2, 3, 4, 5, 0], [4, 5, 0, 1, 2]])
    m = R.retrieval_metrics([5, 5, 9], image_classes, idx)
    assert m["top1"] == pytest.approx(2 / 3)  # 5 ok, 7 wrong, 9 ok
    assert m["top5"] == pytest.approx(1.0)  # query 2 has image 0 (class 5) at rank 5
    assert m["recall"] == pytest.approx((0.5 + 0 + 1) / 3)


def test_reed_protocol_on_a_toy_case():
    # two classes, images on two axes; class queries point at them
    images = np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.6, 0.4]])
    image_classes = np.array([0, 0, 1, 1])
    text = np.array([[1.0, 0], [0.8, 0], [0, 1.0], [0, 0.8]])
    classes, queries = R.class_queries(text, [0, 0, 1, 1])
    assert classes.tolist() == [0, 1]
    assert np.allclose(queries, [[0.9, 0], [0, 0.9]])
    # the 4th image (0.6, 0.4)/|.| is nearer class 0's query -> 3 of 4 right
    assert R.reed_top1(images, image_classes, classes, queries) == pytest.approx(0.75)
    # precision among the 2 nearest images: class 0 -> imgs 0,1 (both 0); class 1 -> 2 and 3
    assert R.reed_precision_at_k(images, image_classes, classes, queries, k=2) == pytest.approx(1.0)
    # among the 3 nearest: class 0 gets image 3 (class 1) -> 2/3; class 1 gets 2,3,+1 -> 2/3
    assert R.reed_precision_at_k(images, image_classes, classes, queries, k=3) == pytest.approx(2 / 3)


def test_reed_scores_by_inner_product_not_euclidean_distance():
    # class queries of very different lengths: Euclidean distance prefers the short query, the
    # inner product (Reed et al.'s compatibility) the one pointing the image's way
    images = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    image_classes = np.array([0, 0, 1])
    text = np.array([[3.0, 0.0], [3.0, 0.0], [0.0, 0.5], [0.0, 0.5]])
    classes, queries = R.class_queries(text, [0, 0, 1, 1])
    assert R.reed_top1(images, image_classes, classes, queries) == pytest.approx(1.0)
    euclid = classes[np.argmin(((images[:, None] - queries[None]) ** 2).sum(-1), axis=1)]
    assert np.mean(euclid == image_classes) == pytest.approx(1 / 3)  # what the old code scored
    # AP@2: class 0 -> images 0, 1 (both right); class 1 -> image 2 (right), image 1 (wrong)
    assert R.reed_precision_at_k(images, image_classes, classes, queries, k=2) == pytest.approx(0.75)


def test_reed_ap_keeps_k_for_small_classes_and_counts_them():
    images = np.eye(3)
    image_classes = np.array([0, 0, 1])
    classes, queries = R.class_queries(np.eye(3)[[0, 1, 2]] * 2, [0, 0, 1])
    # k = 2: class 0 finds its two images (1.0); class 1 has one image, so at most 1/2
    assert R.reed_precision_at_k(images, image_classes, classes, queries, k=2) == pytest.approx(0.75)
    assert R.classes_under_k(image_classes, 2) == 1 and R.classes_under_k(image_classes, 50) == 2


def test_evaluate_pair_retrieves_perfectly_when_text_is_the_image():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 8)) * 3
    train_cls = np.repeat(np.arange(4), 10)
    train_img = centres[train_cls] + rng.normal(scale=0.1, size=(40, 8))
    test_img = centres[train_cls] + rng.normal(scale=0.1, size=(40, 8))
    m, proj = R.evaluate_pair(train_img, train_img, test_img, train_cls, test_img, train_cls)
    assert m["top1"] == 1.0 and m["top5"] == 1.0 and m["f1"] == 1.0
    assert m["reed_top1"] == 1.0
    assert m["reed_k"] == 40 and m["reed_under_k"] == 4  # k = min(50, test images), 10 per class
    assert proj.weights.shape == (8, 8)


def test_paper_tables_and_side_by_side():
    t1 = tables_b.paper_table("cub")
    assert t1.loc[("DistilBERT", "VGG"), "top1"] == 0.19
    assert len(t1) == 6 and len(tables_b.paper_table("flowers")) == 6
    ours = pd.DataFrame(
        [
            {
                "text": "DistilBERT",
                "image": "VGG",
                "top1": 0.5,
                "precision": 0.1,
                "recall": 0.2,
                "f1": 0.3,
                "top5": 0.9,
            }
        ]
    ).set_index(["text", "image"])
    both = tables_b.side_by_side(ours, "cub")
    assert both.loc[("DistilBERT", "VGG"), ("top1", "here")] == 0.5
    assert np.isnan(both.loc[("TF-IDF", "VGG"), ("top1", "here")])
    with pytest.raises(ReproError):
        tables_b.paper_table("imdb")


def test_kdtree_and_brute_force_find_the_same_neighbours():
    rng = np.random.default_rng(5)
    images, queries = rng.normal(size=(60, 16)), rng.normal(size=(25, 16))
    d1, i1 = R.nearest_images(queries, images, k=5, method="kdtree")
    d2, i2 = R.nearest_images(queries, images, k=5, method="brute")
    assert (i1 == i2).all() and np.allclose(d1, d2)
    with pytest.raises(ReproError):
        R.nearest_images(queries, images, method="ball")


def test_projection_is_the_minimum_norm_solution_when_underdetermined():
    # 3 pairs, 5 text dimensions: many exact solutions; lstsq picks the smallest
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3, 5)), rng.normal(size=(3, 2))
    proj = R.fit_projection(x, y, normalize=False)
    assert np.allclose(proj(x), y)
    xc = x - x.mean(0)
    expected = np.linalg.pinv(xc) @ (y - y.mean(0))
    assert np.allclose(proj.weights, expected)


def test_rcond_cuts_off_near_collinear_directions():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(200, 3))
    x = np.hstack([base, base[:, :1] + 1e-7 * rng.normal(size=(200, 1))])  # 4th ~ 1st column
    y = base @ rng.normal(size=(3, 2)) + 0.01 * rng.normal(size=(200, 2))
    plain = R.fit_projection(x, y, normalize=False)
    cut = R.fit_projection(x, y, normalize=False, rcond=1e-4)
    assert np.abs(plain.weights).max() > 1e3  # OLS splits the weight over near twins
    assert np.abs(cut.weights).max() < 10
    # the truncated fit is nearly as good on the training pairs
    assert np.mean((cut(x) - y) ** 2) < 1.1 * np.mean((plain(x) - y) ** 2) + 1e-6
