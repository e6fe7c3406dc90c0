"""helpers.paper_a.frozen_slices, image_classifiers, image_common and weights: Paper A slices, Paper B classifiers, packaged weights.

The papers' own ImageNet weights are not on this machine, so the paper architectures are
tested with random weights (shapes, exact slice points) and the stand-ins with their real
packaged weights.
"""

from __future__ import annotations

import io
import tarfile

import pytest
import torch
from torch import nn

from helpers.core import weights
from helpers.core.errors import ReproError
from helpers.models import image_classifiers as ic
from helpers.models import image_common as common
from helpers.paper_a import frozen_slices as fs


def conv_out(n: int, k: int, s: int = 1, p: int = 0) -> int:
    """Output size of a convolution / max-pool (floor mode)."""
    return (n + 2 * p - k) // s + 1


def expected_paper_a_shape(name: str, n: int = 150) -> tuple[int, int, int]:
    """The paper slices' output shapes from the layer arithmetic of the torchvision definitions."""
    if name == "alexnet":  # conv 11/4 p2 (64) -> ReLU -> maxpool 3/2 -> conv 5 p2 (192) -> ReLU
        n = conv_out(conv_out(n, 11, 4, 2), 3, 2)
        return 192, n, n
    if name in ("wide_resnet50_2", "resnext50_32x4d"):  # conv 7/2 p3 -> maxpool 3/2 p1 -> layer1 (256)
        n = conv_out(conv_out(n, 7, 2, 3), 3, 2, 1)
        return 256, n, n
    if name == "shufflenet_v2_x1_0":  # conv 3/2 p1 -> maxpool 3/2 p1 -> stage2 (stride 2, 116)
        n = conv_out(conv_out(conv_out(n, 3, 2, 1), 3, 2, 1), 3, 2, 1)
        return 116, n, n
    if name == "vgg16":  # 2 x conv3 (64), pool, 2 x conv3 (128), pool, conv3 (256) + ReLU
        n = conv_out(conv_out(n, 2, 2), 2, 2)
        return 256, n, n
    raise AssertionError(name)


def test_expected_shapes_are_the_documented_ones():
    assert expected_paper_a_shape("alexnet") == (192, 17, 17)
    assert expected_paper_a_shape("wide_resnet50_2") == (256, 38, 38)
    assert expected_paper_a_shape("shufflenet_v2_x1_0") == (116, 19, 19)
    assert expected_paper_a_shape("vgg16") == (256, 37, 37)


# module at which the paper's slice ends, in the full torchvision model
CUT_POINT = {
    "alexnet": lambda m: m.features[4],
    "wide_resnet50_2": lambda m: m.layer1,
    "resnext50_32x4d": lambda m: m.layer1,
    "shufflenet_v2_x1_0": lambda m: m.stage2,
    "vgg16": lambda m: m.features[11],
}


@pytest.mark.parametrize("name", fs.EXTRACTORS)
def test_paper_a_slice_random_weights(name):
    """Random-init slice: exact torchvision cut point, computed shape, frozen, eval mode."""
    import torchvision

    torch.manual_seed(123)
    module, choice = fs.frozen_extractor(name, weights="random")
    assert choice.requested == name and choice.weights == "random init" and not choice.is_standin
    assert fs.feature_shape(module, 150) == expected_paper_a_shape(name)
    assert not module.training
    assert not any(p.requires_grad for p in module.parameters())
    module.train()  # a parent's .train() must not unfreeze BatchNorm
    assert not any(m.training for m in module.modules())

    # same seed -> same random torchvision model; its activation at the cut equals the slice's output
    torch.manual_seed(123)
    full = torchvision.models.get_model(name, weights=None).eval()
    seen = {}
    CUT_POINT[name](full).register_forward_hook(lambda _m, _i, out: seen.setdefault("out", out))
    x = torch.randn(1, 3, 150, 150)
    with torch.no_grad():
        full(x)
        ours = module(x)
    torch.testing.assert_close(ours, seen["out"])


def test_paper_weights_absent_gives_labelled_standin_or_clear_error(tmp_path, monkeypatch):
    """With an empty hub cache the paper model is replaced by a labelled stand-in, or refused."""
    monkeypatch.setattr(weights, "hub_checkpoint_dir", lambda: tmp_path / "checkpoints")
    assert not weights.torchvision_weights_cached("alexnet")
    module, choice = fs.frozen_extractor("alexnet")
    assert choice.is_standin and choice.used.startswith("mobilenet_v2") and "alexnet" in choice.reason
    with pytest.raises(ReproError, match="alexnet-owt-7be5be79.pth"):
        fs.frozen_extractor("alexnet", allow_standin=False)
    with pytest.raises(ReproError, match="resnet18-f37072fd.pth"):
        ic.image_classifier("resnet18", 5, allow_standin=False)


STANDIN_SHAPES = {  # stand-in slice output at 150 px (stride 8, 4, 4, 16, 4; see module docstring)
    "alexnet": (32, 19, 19),
    "wide_resnet50_2": (24, 38, 38),
    "resnext50_32x4d": (24, 38, 38),
    "shufflenet_v2_x1_0": (64, 10, 10),
    "vgg16": (24, 38, 38),
}


@pytest.mark.parametrize("name", fs.EXTRACTORS)
def test_standin_slices_load_packaged_weights(name):
    if weights.torchvision_weights_cached(name):
        pytest.skip(f"{name}'s real weights are cached here; no stand-in is used")
    module, choice = fs.frozen_extractor(name)
    assert choice.is_standin and choice.requested == name and choice.reason
    assert fs.feature_shape(module, 150) == STANDIN_SHAPES[name]
    assert not any(p.requires_grad for p in module.parameters()) and not module.training
    standin = fs.EXTRACTOR_STANDIN[name][0]
    first_conv = next(m for m in module.modules() if isinstance(m, nn.Conv2d))
    if standin == "mobilenet_v2":
        state = torch.load(weights.packaged_mobilenet_v2_file(), map_location="cpu", weights_only=True)
        packaged = state["features.0.0.weight"]
    else:
        state = torch.load(common._lite_weight_file(standin), map_location="cpu", weights_only=True)
        packaged = state["_conv_stem.weight"]
    torch.testing.assert_close(first_conv.weight, packaged)
    x = torch.rand(2, 3, 150, 150)
    with torch.no_grad():
        y = module(x)
    assert torch.isfinite(y).all() and y.std() > 0


def test_install_packaged_weights_into_hub_cache(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        copied = weights.install_packaged_weights()
        assert copied == [str(tmp_path / "checkpoints" / weights.MOBILENET_V2_FILE)]
        assert weights.install_packaged_weights() == []  # already there
        assert weights._sha256_prefix_ok(
            tmp_path / "checkpoints" / weights.MOBILENET_V2_FILE, weights.MOBILENET_V2_FILE
        )
        assert weights.torchvision_weights_cached("mobilenet_v2")
        assert not weights.torchvision_weights_cached("vgg16")
    finally:
        torch.hub.set_dir(old)


def test_sha256_prefix_check_rejects_other_bytes(tmp_path):
    fake = tmp_path / weights.MOBILENET_V2_FILE
    fake.write_bytes(b"not the weights")
    assert not weights._sha256_prefix_ok(fake, weights.MOBILENET_V2_FILE)


def test_mobilenet_standin_is_torchvisions_imagenet_model():
    """torchvision's own offline loader (after install) and the packaged file agree, deterministically."""
    import torchvision

    weights.install_packaged_weights()
    tv = torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1").eval()
    manual = torchvision.models.mobilenet_v2()
    manual.load_state_dict(
        torch.load(weights.packaged_mobilenet_v2_file(), map_location="cpu", weights_only=True)
    )
    manual.eval()
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 224, 224, generator=g)
    # a smooth synthetic image: red disc on a blue background
    yy, xx = torch.meshgrid(torch.arange(224), torch.arange(224), indexing="ij")
    disc = ((yy - 112) ** 2 + (xx - 112) ** 2 < 60**2).float()
    img = torch.stack([disc, 0.2 * disc, 1 - disc])[None] * 0.8 + 0.2 * img
    x = common.imagenet_normalize()(img)
    with torch.no_grad():
        a, b, c = tv(x), manual(x), tv(x)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    # the stand-in slice equals the first seven feature blocks of that model
    module, _ = fs.frozen_extractor("mobilenet_v2")
    with torch.no_grad():
        torch.testing.assert_close(module(x), tv.features[:7](x))


IMAGENET_BIRDS = set(range(7, 25)) | set(range(80, 101)) | set(range(127, 147))


def _cub_images(root, n):
    from PIL import Image

    out = []
    with tarfile.open(root / "cub" / "cub_200_2011_images_160px.tar") as tf:
        for member in tf:
            if member.isfile() and member.name.endswith(".jpg"):
                out.append(Image.open(io.BytesIO(tf.extractfile(member).read())).convert("RGB"))
                if len(out) == n:
                    break
    return out


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0"])
def test_standin_classifiers_see_birds_in_cub(shared_data, name):
    """Real weights, real preprocessing: most real CUB photos are classified as ImageNet birds."""
    from torchvision import transforms

    path = shared_data / "cub" / "cub_200_2011_images_160px.tar"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    images = _cub_images(shared_data, 12)
    model = (
        common.torchvision_model("mobilenet_v2", "imagenet")
        if name == "mobilenet_v2"
        else common.efficientnet_lite(name)
    ).eval()
    size = ic.input_size(name)
    tf = transforms.Compose(
        [
            transforms.Resize(size),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            common.normalize_for(name),
        ]
    )
    with torch.no_grad():
        top = model(torch.stack([tf(i) for i in images])).argmax(1).tolist()
    share = sum(c in IMAGENET_BIRDS for c in top) / len(top)
    assert share >= 0.6, f"{name}: only {share:.0%} of CUB images predicted as birds ({top})"


CLASSIFIER_DIMS = {
    "vgg11_bn": 4096,
    "resnet18": 512,
    "inception_v3": 2048,
    "mobilenet_v2": 1280,
    "efficientnet_lite0": 1280,
    "efficientnet_lite1": 1280,
    "efficientnet_lite2": 1280,
}


@pytest.mark.parametrize("name", list(CLASSIFIER_DIMS))
def test_classifier_head_and_drop_head(name):
    model, choice = ic.image_classifier(name, 7, weights="random")
    assert choice.weights == "random init" and not choice.is_standin
    size = 96 if name in ("vgg11_bn", "resnet18", "inception_v3") else 64
    x = torch.randn(2, 3, size, size)
    model.eval()
    with torch.no_grad():
        logits = model(x)
        emb_model = ic.drop_head(model)
        emb = emb_model(x)
        logits_again = model(x)
    assert logits.shape == (2, 7)
    assert emb.shape == (2, CLASSIFIER_DIMS[name]) == (2, ic.embedding_dim(name))
    torch.testing.assert_close(logits, logits_again)  # the original keeps its head
    assert emb_model is not model


def test_inception_keeps_aux_head_in_training():
    model, _ = ic.image_classifier("inception_v3", 5, weights="random")
    model.train()
    out = model(torch.randn(2, 3, 299, 299))
    assert out.logits.shape == (2, 5) and out.aux_logits.shape == (2, 5)
    assert ic.input_size("inception_v3") == 299


def test_paper_b_standins_and_sizes():
    for paper, standin in ic.CLASSIFIER_STANDIN.items():
        if weights.torchvision_weights_cached(paper):
            continue
        model, choice = ic.image_classifier(paper, 4)
        assert choice.is_standin and choice.used.startswith(standin) and choice.reason
        assert ic.input_size(choice) == ic.input_size(standin)
        assert ic.embedding_dim(choice) == 1280
    assert ic.input_size("efficientnet_lite1") == 240 and ic.input_size("resnet18") == 224
    assert common.normalization("efficientnet_lite0")[0] != common.normalization("mobilenet_v2")[0]


def test_user_mistakes_are_repro_errors():
    with pytest.raises(ReproError, match="Unknown Paper A extractor"):
        fs.frozen_extractor("resnet1000")
    with pytest.raises(ReproError, match="weights must be"):
        fs.frozen_extractor("alexnet", weights="imagenet21k")
    with pytest.raises(ReproError, match="Unknown Paper B"):
        ic.image_classifier("alexnet", 3)
    with pytest.raises(ReproError, match="num_classes"):
        ic.image_classifier("resnet18", 1, weights="random")
    with pytest.raises(ReproError, match="drop_head"):
        ic.drop_head(nn.Linear(3, 3))


@pytest.mark.parametrize("arch", ["efficientnet_lite0", "efficientnet_lite2"])
def test_lite_slice_matches_the_package_model(arch):
    """Our dynamic-padding slice = the package's own (static 'same' padding) model up to the cut."""
    from efficientnet_lite_pytorch import EfficientNet

    module, choice = fs.frozen_extractor(arch)
    n_blocks = int(choice.used.split("blocks[:")[1].split("]")[0])
    ref = EfficientNet.from_name(arch.replace("_", "-"))  # native image size, static padding
    ref.load_state_dict(torch.load(common._lite_weight_file(arch), map_location="cpu", weights_only=True))
    ref.eval()
    seen = {}
    ref._blocks[n_blocks - 1].register_forward_hook(lambda _m, _i, out: seen.setdefault("out", out))
    size = ic.input_size(arch)
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        ref(x)
        torch.testing.assert_close(module(x), seen["out"])
