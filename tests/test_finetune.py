"""Paper B's fine-tuning recipes (helpers/models/finetune.py) on tiny generated data."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from helpers.core.errors import ReproError
from helpers.data.image_archive import FolderImageStore, ImageSet
from helpers.models import finetune


@pytest.fixture(scope="module")
def colour_images(tmp_path_factory):
    """24 noisy 40 px images: class 0 reddish, class 1 bluish."""
    root = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(24):
        label = i % 2
        base = np.array([200, 40, 40] if label == 0 else [40, 40, 200], dtype=float)
        pixels = np.clip(base + rng.normal(0, 30, (40, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"img_{i:02d}.png")
        rows.append(
            {
                "image_id": i,
                "image": f"img_{i:02d}",
                "class_id": label,
                "class_name": ["red", "blue"][label],
                "official_split": "train",
            }
        )
    return ImageSet("colours", pd.DataFrame(rows), FolderImageStore(root), ["red", "blue"])


def test_labels_must_be_contiguous():
    assert finetune.class_count([0, 1, 1], [2]) == 3
    with pytest.raises(ReproError, match="0 .. n-1"):
        finetune.class_count([3, 5], [5])


def test_freeze_first_keeps_the_head_trainable_and_frozen_batchnorm_in_eval():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    frozen = finetune.freeze_first(model, 0.9, keep_trainable=[model[2]])
    assert frozen == 4  # 90 % of the 4 non-head tensors, rounded
    assert [p.requires_grad for p in model.parameters()] == [False] * 4 + [True, True]
    with pytest.raises(ReproError):
        finetune.freeze_first(model, 1.0)

    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 4, 1), torch.nn.BatchNorm2d(4)
    )
    finetune.freeze_first(net, 0.5)  # conv + first batch norm
    net.train()
    before = net[1].running_mean.clone()
    net(torch.randn(8, 3, 5, 5) + 3)
    assert torch.equal(net[1].running_mean, before) and not net[1].training
    assert net[3].training and not torch.equal(net[3].running_mean, torch.zeros(4))


def test_image_classifier_finetunes_and_embeds(colour_images, tmp_path):
    keys = colour_images.table.image.tolist()
    labels = colour_images.table.class_id.tolist()
    model, history, choice = finetune.finetune_image_classifier(
        "resnet18",
        colour_images,
        keys[:16],
        labels[:16],
        keys[16:],
        labels[16:],
        epochs=3,
        batch_size=8,
        image_size=32,
        freeze_fraction=0.8,
        checkpoint=tmp_path / "ckpt.pt",
    )
    assert choice.is_standin and "(32 px)" in choice.used
    assert max(history["val_acc"]) >= 0.875  # colours are trivially separable
    frozen_bn = [
        m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.requires_grad
    ]
    assert frozen_bn and not any(m.training for m in frozen_bn)  # frozen statistics too
    emb = finetune.image_embeddings(model, choice, colour_images, keys[16:], image_size=32)
    assert emb.shape == (8, 1280) and emb.dtype == np.float32 and np.isfinite(emb).all()


def test_caption_batches_are_padded_and_masked():
    collate = finetune.pad_collate(pad_id=0)
    x, y = collate([([101, 7, 102], 1), ([101, 102], 0)])
    assert x.tolist() == [[101, 7, 102], [101, 102, 0]] and y.tolist() == [1, 0]

    seen = {}

    class Fake(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            seen["mask"] = attention_mask.tolist()
            return type("Out", (), {"logits": torch.zeros(len(input_ids), 2)})()

    out = finetune.TokenIdsClassifier(Fake(), pad_id=0)(x)
    assert out.shape == (2, 2) and seen["mask"] == [[1, 1, 1], [1, 1, 0]]


def test_notebook06_image_step_labels_train_classes_and_embeds_every_image(colour_images):
    # class ids 0/1 shifted to 7/9 as in a real split; a third class only in "test"
    split = colour_images.table[["image", "class_id"]].copy()
    split["class_id"] = split.class_id.map({0: 7, 1: 9})
    split["part"] = ["train"] * 12 + ["val"] * 8 + ["test"] * 4
    split.loc[20:, "class_id"] = 42  # an unseen class: gets no label
    emb, history, choice = finetune.finetuned_image_embeddings(
        "resnet18", colour_images, split, epochs=1, batch_size=8, image_size=32, freeze_fraction=0.9
    )
    assert emb.shape == (24, 1280) and emb.dtype == np.float32  # every image, split order
    assert len(history["val_acc"]) == 1 and choice.is_standin


def test_notebook06_caption_step_embeds_every_caption_in_order():
    captions = pd.DataFrame(
        {
            "caption": [
                "a red bird with a short beak",
                "this bird is red",
                "a blue bird",
                "the bird is blue and small",
                "a green bird",
                "small green wings",
            ],
            "class_id": [7, 7, 9, 9, 4, 4],
            "part": ["train", "val", "train", "val", "test", "test"],
        }
    )
    split = pd.DataFrame({"image": ["x"] * 3, "class_id": [7, 9, 4], "part": ["train", "val", "test"]})
    emb, history, choice = finetune.finetuned_caption_embeddings(
        "distilbert-base-uncased", captions, split, epochs=1, batch_size=4, max_length=16, freeze_fraction=0.8
    )
    assert emb.shape[0] == 6 and emb.shape[1] in (384, 768) and np.isfinite(emb).all()
    assert choice.requested == "distilbert-base-uncased" and len(history["val_acc"]) == 1
    assert not np.allclose(emb[0], emb[2])  # different captions, different [CLS]
