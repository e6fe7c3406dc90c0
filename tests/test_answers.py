"""The papers' questions answered from a recorded run (helpers/book/answers.py, helpers/book/verdicts.py)."""

import pytest

from helpers.book import answers, readme, record, verdicts

S = record._mean_std
N_VAL = 10_000


def _a1(name, vals, shares=None, cumulative=None, per_seed=True):
    row = {"row": name, "val_acc": S(vals), "seeds": list(range(len(vals)))}
    if cumulative is not None:
        row["val_acc_cumulative"] = S(cumulative)
    if per_seed:
        shares = shares or [0.55] * len(vals)
        row["per_seed"] = [
            {"seed": i, "val_acc": v, "val_majority_share": sh, "n_val": N_VAL}
            for i, (v, sh) in enumerate(zip(vals, shares))
        ]
    return row


def _record(
    alexnet=(0.80, 0.82), random=(0.70, 0.72), probe=(0.85,), reed=0.3, shares=None, per_seed=True, b_seeds=1
):
    a1 = [
        _a1("alexnet | paper recipe | book head", alexnet, shares, cumulative=[0.78], per_seed=per_seed),
        _a1("vgg16 | paper recipe | book head", (0.75, 0.77), per_seed=per_seed),
        _a1("alexnet_random | paper recipe | book head", random, per_seed=per_seed),
        _a1("linear probe: [CLS] vectors", probe, per_seed=per_seed),
        _a1("linear probe: DeepInsight pixels", (0.83,), per_seed=per_seed),
    ]

    def b(text, image, tm, im, top1, reed_top1):
        vals = [top1 + 0.002 * i for i in range(b_seeds)]
        return {
            "text": text,
            "image": image,
            "text model": tm,
            "image model": im,
            "top1": S(vals),
            "top5": S([0.3]),
            "f1": S([0.08]),
            "reed_top1": S([reed_top1]),
            "reed_ap50": S([0.2]),
            "queries": 35_560,
            "images": 3_556,
            "reed_k": 50,
            "per_seed": [{"seed": i, "top1": v, "reed_top1": reed_top1} for i, v in enumerate(vals)],
        }

    b1 = [
        b("TF-IDF", "VGG", "tfidf", "efficientnet_lite0", 0.10, reed),
        b("DistilBERT", "ResNet", "distilbert-base-uncased", "resnet18", 0.20, reed / 2),
    ]
    models = {
        "A1": {"extractors": [{"requested": "alexnet", "used": "mobilenet_v2 features[:7] (stride 8)"}]},
        "B": {
            "text": {"requested": "distilbert-base-uncased", "used": "all-MiniLM-L6-v2 (packaged)"},
            "images": {"cub/resnet18": {"requested": "resnet18", "used": "mobilenet_v2 (128 px)"}},
        },
    }
    tables = {"A1": a1, "B1": b1, "B2": []}
    return {"tables": tables, "data": {"cub": {"classes": {"test": 60}}}, "models": models}


def test_paper_a_answers_follow_the_numbers_and_the_rule():
    text = answers.paper_a(_record(alexnet=(0.85, 0.852), random=(0.70, 0.702), probe=(0.80,)))
    assert "reach 0.81-0.82 with the stand-ins?** Yes" in text
    best = "*alexnet | paper recipe | book head* (frozen slice: mobilenet_v2 features[:7])"
    assert f"best run without a collapsed seed, {best}, ends at a validation accuracy of 0.851" in text
    assert "(authors' cumulative measure 0.780)" in text and "range from 0.760 to 0.851" in text
    assert "[CLS] vectors?** Yes: the probe reaches 0.800" in text
    assert "on the DeepInsight pixels themselves reaches 0.830." in text
    assert "0.851 against 0.701" in text and "randomly initialised: yes (+15.0 points; 95 % CI" in text
    assert verdicts.RULE in text
    low = answers.paper_a(_record(alexnet=(0.70, 0.701), random=(0.66, 0.74), probe=(0.6,)))
    assert "stand-ins?** No" in low and "vectors?** Yes" in low
    assert "randomly initialised: not determined (" in low and "within noise" in low
    worse = answers.paper_a(_record(alexnet=(0.70, 0.701), random=(0.75, 0.751)))
    assert "randomly initialised: no (-5.0 points" in worse
    assert "Collapsed seeds" not in text


def test_a_collapsed_seed_and_a_within_noise_difference_give_not_determined_and_name_the_seed():
    # seed 0 of the ImageNet run predicted one class for 99 % of the reviews; the other learned
    rec = _record(alexnet=(0.494, 0.71), random=(0.70, 0.72), shares=[0.99, 0.6])
    for text in (answers.paper_a(rec), readme.readme_section(_with_run_facts(rec))):
        assert "seed 0 of *alexnet | paper recipe | book head* collapsed" in text
        assert "ImageNet pre-training beat the random slice?** *alexnet | paper recipe | book head*" in text
        assert (
            "randomly initialised: not determined (seed 0 of *alexnet | paper recipe | book head* collapsed"
            in text
        )
        assert "Collapsed seeds, not counted as results" in text
    # the same numbers without the collapse: within noise (two seeds), still not determined
    v = verdicts.interval(_a1("a", (0.71, 0.72)), _a1("b", (0.70, 0.72)))
    assert v.word == "not determined" and v.why == "within noise"


def _with_run_facts(rec):
    rec = dict(rec)
    rec.update(
        profile="full",
        commit="0123456789abcdef",
        date="2026-01-01",
        machine={"cores": 2, "cpu": "x", "ram_gb": 8.0, "gpu": None},
        notebooks={"04_sentiment_training": {"wall_s": 60.0}},
        total_wall_s=60.0,
    )
    return rec


def test_an_old_record_without_per_seed_values_gives_not_determined_and_says_so():
    text = answers.paper_a(_record(per_seed=False, random=(0.494, 0.494)))
    assert "stand-ins?** Not determined" in text
    assert "no per-seed values in this record" in text
    assert "stayed at chance level (≤ 0.52): *alexnet_random | paper recipe | book head*" in text


def test_verdict_interval_is_welch_with_the_review_term():
    a, b = _a1("a", (0.80, 0.82)), _a1("b", (0.70, 0.72))
    v = verdicts.interval(a, b)
    assert v.word == "yes" and v.diff == pytest.approx(0.10)
    # Welch-Satterthwaite: equal seed variances -> 2 df; plus the review terms
    var = 2 * (0.0002 / 2) + 0.81 * 0.19 / N_VAL + 0.71 * 0.29 / N_VAL
    from scipy import stats

    df = var**2 / (2 * (0.0001**2 / 1))
    half = stats.t.ppf(0.975, df) * var**0.5
    assert v.ci == pytest.approx((0.10 - half, 0.10 + half))
    one = verdicts.interval(_a1("a", (0.80,)), b)
    assert one.word == "not determined" and "one seed" in one.why
    probe = verdicts.interval(a, _a1("p", (0.5,)), deterministic=(False, True))
    assert probe.word == "yes"
    assert verdicts.interval(a, 0.9).word == "no"


def test_paper_b_answers_name_the_winner_and_reed_scale():
    text = answers.paper_b(_record())
    best = "DistilBERT-ResNet (ran as all-MiniLM-L6-v2 → mobilenet_v2): Top-1 0.200"
    assert f"wins on 60 unseen CUB classes?** {best}" in text
    assert "next comes TF-IDF-VGG at 0.100" in text
    assert "ahead of the second? not determined (" in text and "one seed" in text
    assert "TF-IDF-VGG, classifies 30.0 % of the 3,556 test images of the 60 unseen CUB classes" in text
    assert "share of test images" in text and "of the 60 unseen CUB classes correctly" in text
    assert "highest inner product" in text and "50 highest-scoring images" in text
    assert "56.8 %" in text and "-26.8 points" in text
    two = answers.paper_b(_record(b_seeds=3))
    assert "ahead of the second? yes (" in two


def test_without_a_record_the_answers_say_so():
    for f in (answers.paper_a, answers.paper_b):
        assert "No full-scale run has been recorded yet" in f(None)
        assert "No full-scale run has been recorded yet" in f({})
