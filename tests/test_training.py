"""helpers.models.training: fit (best weights, resumable checkpoints, Inception aux loss), evaluate, embed."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.models import InceptionOutputs

from helpers.core.errors import ReproError
from helpers.models import training


def separable(n=400, d=8, seed=0, flip=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).long()
    return TensorDataset(x, 1 - y if flip else y)


def loaders(shuffle=False, flip_val=False, seed=0):
    train = DataLoader(
        separable(300, seed=seed),
        batch_size=32,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
    )
    val = DataLoader(separable(200, seed=seed + 1, flip=flip_val), batch_size=64)
    return train, val


def mlp(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))


def run(epochs, checkpoint=None, model=None, opt=None, shuffle=False, dropout=0.0, flip_val=False, **kw):
    model = model or mlp(dropout=dropout)
    opt = opt or torch.optim.Adam(model.parameters(), lr=1e-2)
    train, val = loaders(shuffle=shuffle, flip_val=flip_val)
    hist = training.fit(model, train, val, opt, epochs=epochs, checkpoint=checkpoint, **kw)
    return model, opt, hist


def test_fit_learns_a_separable_problem():
    training.seed_everything(0)
    model = mlp()
    train, val = loaders(shuffle=True)
    hist = training.fit(model, train, val, torch.optim.Adam(model.parameters(), lr=1e-2), epochs=15)
    assert set(hist) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "best_epoch"}
    assert hist["epoch"] == list(range(1, 16))
    assert max(hist["val_acc"]) >= 0.95
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    loss, acc = training.evaluate(model, val)
    assert acc == hist["val_acc"][hist["best_epoch"] - 1]
    assert loss == pytest.approx(hist["val_loss"][hist["best_epoch"] - 1], rel=1e-5)


def test_keep_best_restores_best_validation_weights():
    """Validation labels are flipped, so validation accuracy *falls* as training succeeds."""
    train, val = loaders(flip_val=True)
    best = mlp()
    hist = training.fit(best, train, val, torch.optim.Adam(best.parameters(), lr=1e-2), epochs=8)
    assert hist["val_acc"][-1] < max(hist["val_acc"])
    assert hist["best_epoch"] == 1 + hist["val_acc"].index(max(hist["val_acc"])) < 8
    assert training.evaluate(best, val)[1] == max(hist["val_acc"])

    last = mlp()
    hist2 = training.fit(
        last, train, val, torch.optim.Adam(last.parameters(), lr=1e-2), epochs=8, keep_best=False
    )
    assert training.evaluate(last, val)[1] == hist2["val_acc"][-1]


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    """Shuffling and dropout included: the checkpoint carries the random state too."""
    random = dict(shuffle=True, dropout=0.3)
    _, _, full = run(4, **random)

    class Interrupt(Exception):
        pass

    def stop_after_two(epoch, _hist):
        if epoch == 2:
            raise Interrupt

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(Interrupt):
        run(4, checkpoint=ckpt, on_epoch_end=stop_after_two, **random)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 2
    # a fresh process would build a new model and optimizer; fit resumes them from the checkpoint
    model, _, resumed = run(4, checkpoint=ckpt, **random)
    assert resumed["epoch"] == [1, 2, 3, 4]
    for key in ("train_loss", "val_loss", "val_acc", "train_acc"):
        assert resumed[key] == pytest.approx(full[key], rel=1e-5), key
    assert resumed["best_epoch"] == full["best_epoch"]


def test_more_epochs_continue_from_checkpoint(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    _, _, first = run(2, checkpoint=ckpt)
    _, _, more = run(4, checkpoint=ckpt)
    assert more["epoch"] == [1, 2, 3, 4] and more["train_loss"][:2] == first["train_loss"]
    _, _, _again = run(4, checkpoint=ckpt)  # nothing left to do: returns the history
    assert _again["epoch"] == [1, 2, 3, 4]


def test_patience_stops_early_and_a_resumed_run_stays_stopped(tmp_path):
    """Flipped validation labels: validation accuracy peaks early, so training stops ``patience``
    epochs after the best one; rerunning from the checkpoint trains nothing more."""
    ckpt = tmp_path / "ckpt.pt"
    _, _, hist = run(30, checkpoint=ckpt, flip_val=True, keep_best=False, patience=2)
    best = hist["best_epoch"]
    assert hist["epoch"] == list(range(1, best + 3)) and len(hist["epoch"]) < 30
    assert max(hist["val_acc"][best:]) <= hist["val_acc"][best - 1]
    _, _, again = run(30, checkpoint=ckpt, flip_val=True, keep_best=False, patience=2)
    assert again["epoch"] == hist["epoch"]
    _, _, longer = run(30, flip_val=True, keep_best=False)
    assert longer["val_acc"][: len(hist["val_acc"])] == pytest.approx(hist["val_acc"], rel=1e-6)
    with pytest.raises(ReproError, match="patience"):
        run(2, patience=0)


def test_corrupt_checkpoint_is_a_repro_error(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"garbage")
    with pytest.raises(ReproError, match="delete it"):
        run(1, checkpoint=ckpt)


class AuxNet(nn.Module):
    """Returns torchvision's InceptionOutputs in training mode, like Inception-v3."""

    def __init__(self):
        super().__init__()
        self.main = nn.Linear(8, 2)
        self.aux = nn.Linear(8, 2)

    def forward(self, x):
        if self.training:
            return InceptionOutputs(self.main(x), self.aux(x))
        return self.main(x)


def test_inception_outputs_add_weighted_aux_loss():
    torch.manual_seed(0)
    model = AuxNet()
    train, val = loaders()
    ce = nn.CrossEntropyLoss()
    with torch.no_grad():
        per_batch = [(ce(model.main(x), y) + 0.4 * ce(model.aux(x), y), len(y)) for x, y in train]
    expected = sum(float(l) * n for l, n in per_batch) / sum(n for _, n in per_batch)
    hist = training.fit(model, train, val, torch.optim.SGD(model.parameters(), lr=0.0), epochs=1)
    assert hist["train_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_evaluate_and_embed():
    model = nn.Linear(8, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0] * 8, [1.0, -0.5] + [0.0] * 6]))
        model.bias.zero_()
    _, val = loaders()
    loss, acc = training.evaluate(model, val)
    assert acc == 1.0 and loss > 0
    emb = training.embed(model, val, progress=False)
    assert emb.shape == (200, 2)
    x = torch.cat([b[0] for b in val])
    assert torch.allclose(torch.from_numpy(emb), model(x).detach(), atol=1e-6)
    bare = DataLoader(x, batch_size=50)  # loaders of bare inputs work too
    assert training.embed(model, bare, progress=False).shape == (200, 2)


def test_devices_and_seeding():
    assert training.pick_device("cpu") == torch.device("cpu")
    assert training.pick_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ReproError, match="no CUDA"):
            training.pick_device("cuda")
    training.seed_everything(5)
    a = torch.rand(3)
    training.seed_everything(5)
    assert torch.equal(a, torch.rand(3))


@pytest.fixture
def restore_determinism(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    saved = (
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[:2]
    torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])


def test_cuda_device_sets_the_determinism_flags(restore_determinism, monkeypatch):
    """What a GPU run gets, checked without a GPU: pick_device('cuda') with CUDA reported present."""
    training.pick_device("cpu")
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # CPU: nothing changed
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.pick_device("cuda").type == "cuda"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert (
        torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    )


def test_make_deterministic_without_a_gpu(restore_determinism):
    torch.backends.cudnn.benchmark = True
    training.make_deterministic(torch.device("cuda"))
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_bfloat16_autocast_trains_close_to_float32_and_is_switched_back():
    """set_compute_dtype("bfloat16"): forward passes in bfloat16, weights stay float32."""

    def run():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        train, val = loaders()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        hist = training.fit(model, train, val, opt, epochs=3)
        return model, hist, training.embed(model, val, progress=False)

    exact_model, exact, exact_emb = run()
    try:
        training.set_compute_dtype("bfloat16")
        fast_model, fast, fast_emb = run()
    finally:
        training.set_compute_dtype("float32")
    assert all(p.dtype == torch.float32 for p in fast_model.parameters())
    assert fast["val_acc"][-1] > 0.85 and abs(fast["val_acc"][-1] - exact["val_acc"][-1]) < 0.05
    assert fast["train_loss"] != exact["train_loss"]  # it did run in bfloat16
    assert abs(fast_emb - exact_emb).max() < 0.1 * abs(exact_emb).max()
    again = run()[1]
    assert again["train_loss"] == exact["train_loss"]  # float32 again after switching back
    with pytest.raises(ReproError, match="Unknown compute dtype 'half'"):
        training.set_compute_dtype("half")


def test_the_machine_never_picks_the_precision():
    """float32 unless bfloat16 is asked for by name, on every CPU (the same tables everywhere);
    asking for bfloat16 on a CPU without it warns (emulated, slower); 'auto' is gone."""
    amd = "flags : fpu avx2 avx512f avx512_bf16 avx512_vnni"
    old = "flags : fpu sse4_2 avx2"
    assert training.cpu_has_bf16(amd) and not training.cpu_has_bf16(old)
    for cpu in (amd, old):
        assert training.resolve_compute_dtype("float32", "cpu", cpu) == "float32"
    assert training.resolve_compute_dtype("bfloat16", "cpu", amd) == "bfloat16"
    with pytest.warns(UserWarning, match="without native bfloat16"):
        assert training.resolve_compute_dtype("bfloat16", "cpu", old) == "bfloat16"  # asked for: kept
    with pytest.raises(ReproError, match="'auto' is gone"):
        training.resolve_compute_dtype("auto", "cpu", amd)
    with pytest.raises(ReproError, match="Unknown compute dtype 'fp8'"):
        training.resolve_compute_dtype("fp8")
    assert training.cpu_capability().split("+")[0] in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR", "VSX")
