"""Paper B's text -> image projection (helpers/paper_b/projection.py): least squares, the authors' MLP
and the book's ridge fit with its penalty chosen on validation captions."""

import numpy as np
import pytest
from scipy import sparse

from helpers.core.errors import ReproError
from helpers.paper_b import projection as P


def ill_conditioned(seed=0, n=300, d=6, smallest=1e-7):
    """Rows whose centred matrix has singular values 1 ... ``smallest`` (condition number 1e7,
    so the normal equations see 1e14), and targets that are an exact linear map of them."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d))
    u, _ = np.linalg.qr(a - a.mean(0))  # orthonormal, centred columns
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = (u * np.logspace(0, np.log10(smallest), d)) @ v.T + rng.normal(size=d)
    w = rng.normal(size=(d, 3))
    return x, w, x @ w + 0.25


def test_lstsq_is_accurate_where_the_normal_equations_are_not():
    x, w, y = ill_conditioned()
    proj = P.fit_projection(x, y, normalize=False)
    # a least-squares solver loses ~cond * eps = 1e-9; the normal equations (cond^2 * eps ~ 1e-2
    # and worse) got weights wrong by a factor of 12 on this design
    assert np.abs(proj.weights - w).max() < 1e-6 * np.abs(w).max()
    assert np.allclose(proj.bias, 0.25, atol=1e-6)
    assert np.abs(proj(x) - y).max() < 1e-10
    assert proj.info["rank"] == 6 and proj.method == "lstsq"


def normal_equations(x, y):
    xc, yc = x - x.mean(0), y - y.mean(0)
    return np.linalg.solve(xc.T @ xc, xc.T @ yc)


def test_the_test_design_does_break_the_normal_equations():
    # guards the test above: on this design the normal equations really are inaccurate
    x, w, _ = ill_conditioned()
    y = x @ w
    assert np.abs(normal_equations(x, y) - w).max() > 1e-3 * np.abs(w).max()


def test_chunked_qr_equals_one_chunk_and_sparse_equals_dense():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 7)) * (rng.random((120, 7)) < 0.4)
    y = rng.normal(size=(120, 4))
    xm, ym = x.mean(0), y.mean(0)
    one, r1 = P.lstsq_min_norm(x, y, xm, ym)
    many, r2 = P.lstsq_min_norm(x, y, xm, ym, max_chunk_bytes=8 * 7 * 20)  # chunks of 20 rows
    assert r1 == r2 == 7 and np.allclose(one, many, atol=1e-12)
    expected = np.linalg.lstsq(x - xm, y - ym, rcond=None)[0]
    assert np.allclose(one, expected, atol=1e-12)
    from_sparse = P.fit_projection(sparse.csr_matrix(x), y, normalize=False)
    assert np.allclose(from_sparse.weights, expected, atol=1e-12)


def test_minimum_norm_when_there_are_fewer_pairs_than_dimensions():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3, 5)), rng.normal(size=(3, 2))
    proj = P.fit_projection(x, y, normalize=False)
    assert np.allclose(proj(x), y)
    assert np.allclose(proj.weights, np.linalg.pinv(x - x.mean(0)) @ (y - y.mean(0)))
    assert proj.info["rank"] == 2  # 3 centred rows span 2 directions


def test_rcond_drops_small_singular_values():
    x, w, y = ill_conditioned(smallest=1e-5)
    assert P.fit_projection(x, y, normalize=False, rcond=1e-3).info["rank"] == 4  # 1e-4, 1e-5 cut
    assert P.fit_projection(x, y, normalize=False).info["rank"] == 6


def test_mlp_is_the_authors_linear_regressor():
    assert P.MLP_ARGS["hidden_layer_sizes"] == () and P.MLP_ARGS["activation"] == "identity"
    assert P.MLP_ARGS["alpha"] == 1e-4 and P.PAPER_PROJECTION == "lstsq"
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 6))
    y = P.l2_normalize(x[:, :4] + 0.3)  # a smooth target the linear model can follow
    mlp = P.fit_projection(x, y, method="mlp")
    ols = P.fit_projection(x, y, method="lstsq")
    assert mlp.weights.shape == (6, 4) and mlp.bias.shape == (4,) and mlp.method == "mlp"
    assert mlp.info["epochs"] >= 1 and mlp.info["fit_s"] >= 0
    err_mlp = np.mean((mlp(x) - y) ** 2)
    err_ols = np.mean((ols(x) - y) ** 2)
    assert err_ols <= err_mlp < err_ols + 0.01  # least squares is the floor; Adam gets close
    assert mlp.info["converged"]
    again = P.fit_projection(x, y, method="mlp")  # random_state=1: the same fit twice
    assert np.array_equal(again.weights, mlp.weights)


def test_mlp_accepts_sparse_text():
    x = sparse.csr_matrix(np.eye(4)[np.arange(2000) % 4])
    y = np.eye(4)[np.arange(2000) % 4]
    proj = P.fit_projection(x, y, method="mlp")
    assert (proj(x).argmax(1) == np.arange(2000) % 4).all()


def test_bad_arguments_are_clear_errors():
    x = np.ones((3, 2))
    with pytest.raises(ReproError, match="Unknown projection"):
        P.fit_projection(x, x, method="lasso")
    with pytest.raises(ReproError, match="is_val"):
        P.fit_projection(x, x, method="ridge")
    with pytest.raises(ReproError, match="both parts"):
        P.fit_projection(x, x, method="ridge", is_val=np.zeros(3, bool))
    with pytest.raises(ReproError, match="rcond"):
        P.fit_projection(x, x, method="mlp", rcond=1e-3)
    with pytest.raises(ReproError, match="pair them"):
        P.fit_projection(x, np.ones((2, 2)))


def test_weight_concentration_by_hand():
    w = np.zeros((10, 20))
    w[0, 0], w[1, 1], w[2, 2] = -6.0, 2.0, 2.0  # 200 weights: the top 1 % are 2 of them
    c = P.weight_concentration(w)
    assert c["top 1% share of |W|"] == pytest.approx(8 / 10) and c["max |W|"] == 6.0
    assert (c["text dims"], c["image dims"]) == (10, 20)
    with pytest.raises(ReproError):
        P.weight_concentration(np.zeros((2, 2)))


def test_condition_number_is_the_centred_designs():
    x, w, y = ill_conditioned(smallest=1e-5)  # singular values 1 ... 1e-5 by construction
    assert P.fit_projection(x, y, normalize=False).info["cond"] == pytest.approx(1e5, rel=1e-6)
    assert P.condition_number(np.array([2.0, 0.0])) == float("inf")


def near_singular_pairs(seed=0, n=600, d=8, m=3):
    """Text rows that span 2 strong directions plus 6 directions of size 1e-6 (the fine-tuned [CLS]
    vectors' situation), image targets a linear map of the strong part plus noise."""
    rng = np.random.default_rng(seed)
    strong = rng.normal(size=(n, 2))
    x = np.hstack([strong, 1e-6 * rng.normal(size=(n, d - 2))]) @ np.linalg.qr(rng.normal(size=(d, d)))[0]
    y = strong @ rng.normal(size=(2, m)) + 0.3 * rng.normal(size=(n, m))
    return x, y


def test_ridge_chooses_its_penalty_on_the_validation_rows_and_tames_the_weights():
    x, y = near_singular_pairs()
    is_val = np.arange(len(x)) % 5 == 0
    ols = P.fit_projection(x, y, normalize=False)
    ridge = P.fit_projection(x, y, normalize=False, method="ridge", is_val=is_val)
    assert (
        ridge.method == "ridge"
        and ols.info["cond"] > 1e5
        and ridge.info["cond"] == pytest.approx(ols.info["cond"])
    )
    # least squares fits the noise along the tiny directions with huge weights; ridge does not
    assert np.abs(ols.weights).max() > 1e3 and np.abs(ridge.weights).max() < 10
    mse = ridge.info["val_mse"]
    assert set(mse) == set(P.RIDGE_ALPHAS) and ridge.info["alpha"] == min(mse, key=mse.get)
    # the chosen penalty is the best of the grid on rows the fit did not see, checked by hand
    fit = ~is_val
    for alpha in (P.RIDGE_ALPHAS[0], ridge.info["alpha"], P.RIDGE_ALPHAS[-1]):
        xc, yc = x[fit] - x[fit].mean(0), y[fit] - y[fit].mean(0)
        w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
        pred = (x[is_val] - x[fit].mean(0)) @ w + y[fit].mean(0)
        assert np.mean((pred - y[is_val]) ** 2) == pytest.approx(mse[alpha], rel=1e-6)
    # refitted on all rows with that penalty
    xc, yc = x - x.mean(0), y - y.mean(0)
    w = np.linalg.solve(xc.T @ xc + ridge.info["alpha"] * np.eye(x.shape[1]), xc.T @ yc)
    assert np.allclose(ridge.weights, w, atol=1e-8)


def test_ridge_accepts_sparse_text():
    x, y = near_singular_pairs(seed=1)
    x = np.where(np.abs(x) > 0.5, x, 0.0)
    is_val = np.arange(len(x)) % 4 == 0
    a = P.fit_projection(x, y, method="ridge", is_val=is_val)
    b = P.fit_projection(sparse.csr_matrix(x), y, method="ridge", is_val=is_val)
    assert a.info["alpha"] == b.info["alpha"] and np.allclose(a.weights, b.weights, atol=1e-10)
