"""The profiles (helpers/core/config.py, profiles/*.yml): the `full` profile exists and says what it runs."""

import yaml

from helpers.book import run
from helpers.core import config
from helpers.core.config import PROFILES, REPO_ROOT


def _profiles(stem):
    return yaml.safe_load((REPO_ROOT / "profiles" / f"{stem}.yml").read_text())


def test_full_is_a_profile_of_every_notebook():
    assert "full" in PROFILES and config.check_profile("full") == "full"
    for nb in run.notebooks():
        params = run.profile_parameters(nb.stem, "full")
        assert params["profile"] == "full"
        assert "full" in _profiles(nb.stem), f"profiles/{nb.stem}.yml has no full section"


def test_full_profile_runs_all_the_data_on_both_cores():
    assert _profiles("01_bert_cls")["full"]["train_per_class"] is None
    assert _profiles("01_bert_cls")["full"]["test_per_class"] is None
    data = _profiles("05_retrieval_data")["full"]
    assert data["cub_classes"] is None and data["flowers_classes"] is None
    assert data["images_per_class"] is None and data["captions_per_image"] is None
    assert data["test_fraction"] == 0.3
    a1 = _profiles("04_sentiment_training")["full"]
    assert a1["include_random_control"] and a1["linear_probe"] and len(a1["seeds"]) >= 2
    assert _profiles("03_feature_extractors")["full"]["random_control"]
    for stem in ("01_bert_cls", "03_feature_extractors", "04_sentiment_training", "06_finetune_encoders"):
        assert _profiles(stem)["full"]["cpu_threads"] == 2, stem  # one notebook at a time: both cores


def test_full_profile_states_its_cuts():
    """Every departure from the papers' recipe in the full profile is a commented profile choice."""
    for stem in ("01_bert_cls", "04_sentiment_training", "06_finetune_encoders", "07_retrieval"):
        text = (REPO_ROOT / "profiles" / f"{stem}.yml").read_text()
        full = text.split("\nfull:", 1)[1]
        assert "PROFILE CUT" in full or "PROFILE CHOICE" in full, stem
