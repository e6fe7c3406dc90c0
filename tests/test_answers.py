"""The papers' questions answered from a recorded run (helpers/book/answers.py)."""

from helpers.book import answers, record

S = record._mean_std


def _record(alexnet=(0.80, 0.82), random=(0.70, 0.72), probe=(0.85,), reed=0.3):
    a1 = [
        {"row": "alexnet | paper recipe | book head", "val_acc": S(alexnet), "val_acc_cumulative": S([0.78])},
        {"row": "vgg16 | paper recipe | book head", "val_acc": S([0.75, 0.77])},
        {"row": "alexnet_random | paper recipe | book head", "val_acc": S(random)},
        {"row": "linear probe: [CLS] vectors", "val_acc": S(probe)},
        {"row": "linear probe: DeepInsight pixels", "val_acc": S([0.83])},
    ]
    b1 = [
        {
            "text": "TF-IDF",
            "image": "VGG",
            "text model": "tfidf",
            "image model": "efficientnet_lite0",
            "top1": S([0.10]),
            "top5": S([0.3]),
            "f1": S([0.08]),
            "reed_top1": S([reed]),
        },
        {
            "text": "DistilBERT",
            "image": "ResNet",
            "text model": "distilbert-base-uncased",
            "image model": "resnet18",
            "top1": S([0.20]),
            "top5": S([0.5]),
            "f1": S([0.18]),
            "reed_top1": S([reed / 2]),
        },
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


def test_paper_a_answers_follow_the_numbers():
    text = answers.paper_a(_record())
    assert "reach 0.81-0.82 with the stand-ins?** Yes" in text
    best = "*alexnet | paper recipe | book head* (frozen slice: mobilenet_v2 features[:7])"
    assert f"{best}, ends at a validation accuracy of 0.810" in text
    assert "(authors' cumulative measure 0.780)" in text and "range from 0.760 to 0.810" in text
    assert "[CLS] vectors?** No: the probe reaches 0.850" in text and "-4.0 points" in text
    assert "on the DeepInsight pixels themselves reaches 0.830." in text
    assert "0.810 against 0.710" in text and "+10.0 points: yes" in text
    low = answers.paper_a(_record(alexnet=(0.70, 0.72), random=(0.66, 0.74), probe=(0.6,)))
    assert "stand-ins?** No" in low and "vectors?** Yes" in low
    assert "not clearly (within two std)" in low
    worse = answers.paper_a(_record(alexnet=(0.70, 0.70), random=(0.75, 0.75)))
    assert "-5.0 points: no" in worse
    assert "stayed at chance" not in text
    stuck = answers.paper_a(_record(random=(0.494, 0.494)))
    assert "stayed at chance level (≤ 0.52): *alexnet_random | paper recipe | book head*;" in stuck


def test_paper_b_answers_name_the_winner_and_reed_scale():
    text = answers.paper_b(_record())
    best = "DistilBERT-ResNet (ran as all-MiniLM-L6-v2 → mobilenet_v2): Top-1 0.200"
    assert f"wins on 60 unseen CUB classes?** {best}" in text
    assert "next comes TF-IDF-VGG at 0.100" in text
    assert "TF-IDF-VGG, classifies 30.0 % of the 60 unseen CUB classes" in text
    assert "56.8 %" in text and "-26.8 points" in text


def test_without_a_record_the_answers_say_so():
    for f in (answers.paper_a, answers.paper_b):
        assert "No full-scale run has been recorded yet" in f(None)
        assert "No full-scale run has been recorded yet" in f({})
