"""helpers.core.weights: the one paper-or-stand-in decision (resolve) and the models.json format."""

import json

import pytest

from helpers.core import weights
from helpers.core.errors import ReproError
from helpers.core.weights import ModelChoice
from helpers.paper_b import tables_b


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch hub cache: no paper weights on this 'machine'."""
    hub = tmp_path / "checkpoints"
    monkeypatch.setattr(weights, "hub_checkpoint_dir", lambda: hub)
    return hub


def test_resolve_torchvision_paper_weights_present_gives_paper_model(empty_hub):
    path = weights.torchvision_weights_path("alexnet")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")  # resolve decides on presence only; the loader reads the file
    choice = weights.resolve("alexnet", kind="torchvision", standin="mobilenet_v2")
    assert choice == ModelChoice("alexnet", "alexnet", False, "ImageNet1K_V1 (torchvision)")


def test_resolve_torchvision_absent_gives_labelled_standin(empty_hub):
    choice = weights.resolve("alexnet", kind="torchvision", standin="mobilenet_v2")
    assert choice.is_standin and choice.used == "mobilenet_v2" and choice.requested == "alexnet"
    assert "alexnet-owt-7be5be79.pth" in choice.reason and "mobilenet_v2" in choice.reason


def test_resolve_torchvision_absent_not_allowed_names_the_file(empty_hub):
    with pytest.raises(ReproError, match=r"alexnet-owt-7be5be79\.pth.*checkpoints"):
        weights.resolve("alexnet", kind="torchvision", standin="mobilenet_v2", allow_standin=False)


def test_resolve_huggingface_branches(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "my-bert"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    present = weights.resolve(str(folder), kind="huggingface", standin="all-MiniLM-L6-v2")
    assert not present.is_standin and present.used == str(folder) and str(folder) in present.weights
    missing = str(tmp_path / "no-such-model")
    absent = weights.resolve(missing, kind="huggingface", standin="all-MiniLM-L6-v2")
    assert absent.is_standin and absent.used == "all-MiniLM-L6-v2" and missing in absent.reason
    with pytest.raises(ReproError, match="Hugging Face cache"):
        weights.resolve(missing, kind="huggingface", standin="all-MiniLM-L6-v2", allow_standin=False)


def test_resolve_unknown_kind():
    with pytest.raises(ReproError, match="kind must be one of"):
        weights.resolve("alexnet", kind="onnx", standin="x")


def test_loaders_follow_resolve(empty_hub):
    """frozen_extractor and image_classifier take resolve's decision (stand-in with its reason)."""
    from helpers.models import image_classifiers
    from helpers.paper_a import frozen_slices

    _, a = frozen_slices.frozen_extractor("alexnet")
    expected = weights.resolve("alexnet", kind="torchvision", standin="mobilenet_v2")
    assert a.is_standin and a.reason.startswith(expected.reason)
    assert image_classifiers.resolve_classifier("resnet18").is_standin
    assert not image_classifiers.resolve_classifier("mobilenet_v2").is_standin
    with pytest.raises(ReproError, match="resnet18-f37072fd.pth"):
        image_classifiers.resolve_classifier("resnet18", allow_standin=False)


def test_choices_round_trip(tmp_path):
    choices = [
        ModelChoice("alexnet", "mobilenet_v2 features[:7] (stride 8)", True, "ImageNet", "absent"),
        ModelChoice("bert-base-uncased", "bert-base-uncased", False, "pretrained"),
    ]
    path = weights.save_choices(tmp_path / "models.json", choices)
    assert json.loads(path.read_text())[0]["requested"] == "alexnet"
    assert weights.load_choices(path) == choices
    assert [ModelChoice.from_row(c.as_row()) for c in choices] == choices


def test_load_choices_bad_files(tmp_path):
    with pytest.raises(ReproError, match="missing"):
        weights.load_choices(tmp_path / "models.json")
    bad = tmp_path / "bad.json"
    bad.write_text('[{"requested": "x"}]')
    with pytest.raises(ReproError, match="Not a ModelChoice row"):
        weights.load_choices(bad)
    bad.write_text("not json")
    with pytest.raises(ReproError, match="not a list of ModelChoice rows"):
        weights.load_choices(bad)


def test_retrieval_info_rows_round_trip():

    img = ModelChoice("resnet18", "mobilenet_v2 (224 px)", True, "ImageNet", "absent")
    txt = ModelChoice("distilbert-base-uncased", "all-MiniLM-L6-v2", True, "packaged", "absent")
    info = json.loads(
        json.dumps(tables_b.choice_rows({("cub", "resnet18"): img, ("flowers", "resnet18"): img}, txt))
    )
    assert tables_b.choices_of(info, "cub") == [img, txt]
    info["text_choice"] = None
    assert tables_b.choices_of(info, "flowers") == [img]
