"""The paper models' real loading code, from a local cache (issue 9, item 3).

No weights can be downloaded here, so each test writes a *random-weight* checkpoint of the
right architecture under the exact name the library looks for, in a temporary cache, and checks
that the project's loaders pick it up as the paper's model (``is_standin`` False), through the
libraries' own code paths: torchvision's ``get_model(arch, weights="IMAGENET1K_V1")`` reads
``$TORCH_HOME/hub/checkpoints/<file>`` (its hash is checked only when it downloads, so a file
with the right name is loaded as is), and transformers reads the Hugging Face hub cache layout
``$HF_HOME/hub/models--<id>/snapshots/<commit>/`` offline.

Fast: the two smallest torchvision models and tiny BERT/DistilBERT configurations; the other six
torchvision architectures are full size (up to 550 MB each) and marked slow.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from helpers.core import weights
from helpers.models import image_classifiers
from helpers.paper_a import frozen_slices

SMALL = ["shufflenet_v2_x1_0", "resnet18"]
LARGE = ["alexnet", "wide_resnet50_2", "resnext50_32x4d", "vgg16", "vgg11_bn", "inception_v3"]


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _write_random_checkpoint(arch: str) -> dict:
    from torchvision import models

    torch.manual_seed(0)
    kwargs = {"aux_logits": True, "init_weights": False} if arch == "inception_v3" else {}
    state = models.get_model(arch, weights=None, **kwargs).state_dict()
    path = weights.torchvision_weights_path(arch)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def _check_torchvision(arch: str):
    assert not weights.torchvision_weights_cached(arch)
    state = _write_random_checkpoint(arch)
    try:
        _check_loaded(arch, state)
    finally:  # up to 550 MB: do not leave it in pytest's kept temporary folders
        weights.torchvision_weights_path(arch).unlink(missing_ok=True)


def _check_loaded(arch: str, state: dict):
    assert weights.torchvision_weights_path(arch).name == os.path.basename(
        __import__("torchvision").models.get_model_weights(arch).IMAGENET1K_V1.url
    )
    assert weights.torchvision_weights_cached(arch)
    if arch in frozen_slices.EXTRACTORS:
        module, choice = frozen_slices.frozen_extractor(arch, allow_standin=False)
        assert not choice.is_standin and choice.weights == "ImageNet1K_V1 (torchvision)"
        loaded = module.state_dict()
        # the slice holds the first layers of the checkpoint, with its values
        first = next(k for k in state if k.endswith("weight"))
        assert any(torch.equal(v, state[first]) for v in loaded.values())
        with torch.no_grad():
            out = module(torch.zeros(1, 3, 150, 150))
        assert out.ndim == 4
    if arch in image_classifiers.PAPER_B_CLASSIFIERS:
        model, choice = image_classifiers.image_classifier(arch, 7, allow_standin=False)
        assert not choice.is_standin and choice.weights == "ImageNet1K_V1 (torchvision)"
        body = {
            k: v
            for k, v in model.state_dict().items()
            if k in state and v.shape == state[k].shape and "num_batches_tracked" not in k
        }
        assert body and all(torch.equal(v, state[k]) for k, v in body.items())
        head = image_classifiers.head_layers(model)[0]
        assert head.out_features == 7


@pytest.mark.parametrize("arch", SMALL)
def test_torchvision_paper_model_loads_from_the_local_cache(torch_home, arch):
    _check_torchvision(arch)


@pytest.mark.slow
@pytest.mark.parametrize("arch", LARGE)
def test_torchvision_paper_model_loads_from_the_local_cache_full_size(torch_home, arch):
    _check_torchvision(arch)


def test_without_the_file_a_standin_runs_or_a_clear_error(torch_home):
    _, choice = frozen_slices.frozen_extractor("shufflenet_v2_x1_0", allow_standin=True)
    assert choice.is_standin
    with pytest.raises(Exception, match=r"put shufflenetv2_x1-5666bf0f80.pth into .*torch/hub/checkpoints"):
        frozen_slices.frozen_extractor("shufflenet_v2_x1_0", allow_standin=False)


# --------------------------------------------------------------------------- transformers

TINY = {
    "bert-base-uncased": dict(
        hidden_size=32, num_hidden_layers=6, num_attention_heads=2, intermediate_size=64
    ),
    "distilbert-base-uncased": dict(dim=32, n_layers=2, n_heads=2, hidden_dim=64),
}
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "bird", "red", "the", "."]


def _write_hf_cache(hf_home: Path, name: str) -> None:
    """A tiny random-weight model + tokenizer in the hub cache layout, as a download leaves it."""
    from transformers import BertConfig, BertModel, BertTokenizerFast, DistilBertConfig, DistilBertModel

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_home / "hub" / f"models--{name}"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    vocab = hf_home / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n")
    torch.manual_seed(0)
    if name.startswith("distilbert"):
        model = DistilBertModel(DistilBertConfig(vocab_size=len(WORDS), **TINY[name]))
    else:
        model = BertModel(BertConfig(vocab_size=len(WORDS), **TINY[name]))
    model.save_pretrained(snap)
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(snap)


HF_CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np
    from helpers.models import text_encoders

    out = {}
    tok, model, choice = text_encoders.load_text_encoder("bert-base-uncased", allow_standin=False)
    long_review = "a good film . " * 300            # longer than 512 tokens: truncated to 512
    cls = text_encoders.cls_last_layers([long_review, "a bad film"], tok, model, n_layers=6,
                                        max_length=512, batch_size=2, progress=False)
    out["bert"] = [choice.is_standin, choice.used, model.config.hidden_size, list(cls.shape),
                   len(tok(long_review, truncation=True, max_length=512)["input_ids"]),
                   bool(np.isfinite(cls).all())]
    tok, clf, choice = text_encoders.load_text_classifier("distilbert-base-uncased", 5, allow_standin=False)
    emb = text_encoders.text_embeddings(["a red bird"], tok, clf, max_length=64, progress=False)
    out["distilbert"] = [choice.is_standin, choice.used, clf.config.dim, list(emb.shape), clf.config.num_labels]
    json.dump(out, sys.stdout)
""")


def test_transformers_paper_models_load_from_the_local_hf_cache(tmp_path):
    """In a fresh process (the hub cache location is fixed when huggingface_hub is imported)."""
    hf_home = tmp_path / "hf"
    for name in TINY:
        _write_hf_cache(hf_home, name)
    env = {
        **os.environ,
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    env.pop("HF_HUB_CACHE", None)
    env.pop("TRANSFORMERS_CACHE", None)
    proc = subprocess.run(
        [sys.executable, "-c", HF_CHECK], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["bert"] == [False, "bert-base-uncased", 32, [2, 6, 32], 512, True]
    assert out["distilbert"] == [False, "distilbert-base-uncased", 32, [1, 32], 5]
