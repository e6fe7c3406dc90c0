"""helpers.data.cub / data_flowers / image_archive on the real shared data and on tiny official
layouts built in tmp_path."""

from __future__ import annotations

import pickle
import shutil
import tarfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from helpers.core.errors import ReproError
from helpers.data import cub as data_cub
from helpers.data import flowers as data_flowers
from helpers.data.image_archive import ImageDataset, TarImageStore

COLUMNS = ["image_id", "image", "class_id", "class_name", "official_split"]


@pytest.fixture(scope="module")
def cub(shared_data):
    return data_cub.load_cub(shared_data / "cub")


@pytest.fixture(scope="module")
def flowers(shared_data):
    return data_flowers.load_flowers(shared_data / "flowers")


@pytest.fixture(scope="module")
def cub_captions(shared_data):
    return data_cub.load_cub_captions(shared_data)  # the data root, as notebooks pass it


# --- real shared data ---------------------------------------------------------------------


def test_cub_table(cub):
    t = cub.table
    assert cub.name == "cub" and list(t.columns[:5]) == COLUMNS
    assert len(t) == 11_788 and t["image_id"].is_unique and t["image"].is_unique
    assert len(cub.class_names) == 200 and t["class_id"].nunique() == 200
    assert t["class_id"].min() == 0 and t["class_id"].max() == 199
    assert t["official_split"].value_counts().to_dict() == {"train": 5994, "test": 5794}
    first = t.iloc[0]
    assert first["image"] == "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18"
    assert (first["class_id"], first["class_name"]) == (0, "001.Black_footed_Albatross")
    assert not t["image"].str.endswith(".jpg").any()
    # every image sits in its class's folder
    assert (t["image"].str.split("/").str[0] == t["class_name"]).all()
    assert [cub.class_names[c] for c in t["class_id"]] == t["class_name"].tolist()


def test_cub_images_open_at_the_right_size(cub):
    for key in cub.table["image"].iloc[[0, 1234, 11_787]]:
        image = cub.open_image(key)
        assert image.mode == "RGB"
        assert max(image.size) == 160  # resized to fit 160x160, aspect kept
        assert np.asarray(image).std() > 5  # real pixels, not a blank


def test_cub_captions_ten_per_image(cub, cub_captions):
    captions = cub_captions
    assert set(captions) == set(cub.table["image"])
    assert {len(c) for c in captions.values()} == {10}
    sample = captions[cub.table["image"].iloc[0]]
    assert all(isinstance(s, str) and len(s.split()) >= 3 for s in sample)
    assert any("bird" in s for s in sample)


def test_flowers_table_and_images(flowers):
    t = flowers.table
    assert flowers.name == "flowers" and list(t.columns[:5]) == COLUMNS
    assert len(t) == 8_189 and len(flowers.class_names) == 102
    assert t["class_id"].min() == 0 and t["class_id"].max() == 101
    assert t["official_split"].value_counts().to_dict() == {"test": 6149, "train": 1020, "val": 1020}
    assert t.groupby("official_split")["class_id"].nunique().to_dict() == {
        "train": 102,
        "val": 102,
        "test": 102,
    }
    first = t.iloc[0]
    assert (first["image"], first["class_id"], first["class_name"]) == ("image_00001", 76, "passion flower")
    assert flowers.class_names[0] == "pink primrose"
    for key in ("image_00001", "image_08189"):
        image = flowers.open_image(key)
        assert image.mode == "RGB" and image.size == (128, 128)


def test_flower_captions_are_unavailable_in_shared_data(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path))
    with pytest.raises(data_flowers.CaptionsUnavailable, match="cvpr2016_flowers") as err:
        data_flowers.load_flowers_captions()
    assert isinstance(err.value, ReproError)
    with pytest.raises(data_flowers.CaptionsUnavailable):
        data_flowers.load_flowers_captions(shared_data / "flowers")


def test_data_source_root_works_for_every_loader(shared_data, cub, flowers):
    """Notebooks pass their ``data_source`` parameter (the data root) straight to the loaders."""
    from helpers.data import imdb as data_imdb

    assert data_cub.load_cub(shared_data).table.equals(cub.table)
    assert data_flowers.load_flowers(shared_data).table.equals(flowers.table)
    assert data_imdb._resolve(shared_data).name == "aclImdb_labeled_50k_text.tar.gz"
    with pytest.raises(data_flowers.CaptionsUnavailable):
        data_flowers.load_flowers_captions(shared_data)


def test_image_dataset_with_worker_processes(cub):
    rows = cub.table.iloc[::1000]
    ds = ImageDataset(
        cub,
        rows["image"],
        rows["class_id"],
        lambda im: torch.from_numpy(np.array(im.resize((32, 32)))).permute(2, 0, 1),
    )
    assert len(ds) == len(rows)
    x, y = ds[1]
    assert x.shape == (3, 32, 32) and y == rows["class_id"].iloc[1]
    batches = list(DataLoader(ds, batch_size=4, num_workers=2))
    xs = torch.cat([b[0] for b in batches])
    assert xs.shape == (len(rows), 3, 32, 32)
    assert torch.cat([b[1] for b in batches]).tolist() == rows["class_id"].tolist()
    assert torch.equal(xs[1], x)  # workers read the same bytes as the main process
    default = ImageDataset(cub, rows["image"][:1], [0])[0][0]
    assert default.dtype == torch.float32 and default.shape[0] == 3 and default.max() <= 1


def test_tar_store_is_thread_safe_and_picklable(cub):
    store = cub.store
    assert isinstance(store, TarImageStore)
    keys = cub.table["image"].iloc[:200].tolist()
    expected = [store.read(k) for k in keys]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(store.read, keys)) == expected
    clone = pickle.loads(pickle.dumps(store))
    assert clone.read(keys[5]) == expected[5]


def test_truncated_cub_tar_is_one_clear_error(shared_data, tmp_path):
    (tmp_path / "meta").symlink_to(shared_data / "cub" / "meta")
    bad = tmp_path / data_cub.IMAGES_TAR
    with open(shared_data / "cub" / data_cub.IMAGES_TAR, "rb") as f:
        bad.write_bytes(f.read(3_000_000) + b"\0" * 100)  # cut inside a member
    with pytest.raises(ReproError, match="corrupt|truncated|missing"):
        data_cub.load_cub(tmp_path)


def test_garbage_flowers_tar_is_one_clear_error(shared_data, tmp_path):
    for name in ("imagelabels.mat", "setid.mat"):
        shutil.copy(shared_data / "flowers" / name, tmp_path / name)
    (tmp_path / data_flowers.THUMBS_TAR).write_bytes(b"not a tar" * 1000)
    with pytest.raises(ReproError, match="tar"):
        data_flowers.load_flowers(tmp_path)


def test_wrong_folders(tmp_path):
    with pytest.raises(ReproError, match="No CUB-200-2011 data"):
        data_cub.load_cub(tmp_path)
    with pytest.raises(ReproError, match="No Oxford-102 Flowers images"):
        data_flowers.load_flowers(tmp_path)
    with pytest.raises(ReproError, match="No CUB captions"):
        data_cub.load_cub_captions(tmp_path)


# --- official layouts built in tmp_path ---------------------------------------------------


def _jpg(path, color, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, quality=95)


@pytest.fixture
def official_cub(tmp_path):
    """``CUB_200_2011/`` as in the official .tgz: 2 classes x 3 images + the text files."""
    root = tmp_path / "official" / "CUB_200_2011"
    classes = ["001.Black_footed_Albatross", "002.Laysan_Albatross"]
    images, labels, split = [], [], []
    for c, cls in enumerate(classes):
        for j in range(3):
            i = len(images) + 1
            rel = f"{cls}/{cls[4:]}_{j:04d}_{i}.jpg"
            _jpg(root / "images" / rel, (60 * c + 20, 10 * j, 100))
            images.append(f"{i} {rel}")
            labels.append(f"{i} {c + 1}")
            split.append(f"{i} {j % 2}")
    (root / "images.txt").write_text("\n".join(images) + "\n")
    (root / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (root / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (root / "classes.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    for cls in classes:  # captions in Reed's layout
        for img in (root / "images" / cls).iterdir():
            cap = tmp_path / "captions" / "text_c10" / cls / (img.stem + ".txt")
            cap.parent.mkdir(parents=True, exist_ok=True)
            cap.write_text("".join(f"caption {k} of {img.stem}\n" for k in range(10)))
    return root


def test_official_cub_folder_tgz_and_plain_tar(official_cub, tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path / "cache"))
    a = data_cub.load_cub(official_cub)
    b = data_cub.load_cub(official_cub.parent)
    assert len(a) == 6 and a.class_names == ["001.Black_footed_Albatross", "002.Laysan_Albatross"]
    assert a.table.equals(b.table)
    assert a.table["class_id"].tolist() == [0, 0, 0, 1, 1, 1]
    assert a.table["official_split"].tolist() == ["test", "train", "test"] * 2
    key = a.table["image"].iloc[4]
    assert a.open_image(key).size == (40, 30)
    tgz = tmp_path / "CUB_200_2011.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(official_cub, arcname="CUB_200_2011")
    c = data_cub.load_cub(tgz)  # extracted once into REPRO_CACHE
    assert c.table.equals(a.table)
    assert np.array_equal(np.asarray(c.open_image(key)), np.asarray(a.open_image(key)))
    assert (tmp_path / "cache" / "extracted" / "CUB_200_2011.tgz" / ".complete").is_file()
    plain = tmp_path / "cub_plain.tar"  # an uncompressed tar with metadata inside: read by offset
    with tarfile.open(plain, "w") as tar:
        tar.add(official_cub, arcname="CUB_200_2011")
    d = data_cub.load_cub(plain)
    assert isinstance(d.store, TarImageStore) and d.table.equals(a.table)
    assert np.array_equal(np.asarray(d.open_image(key)), np.asarray(a.open_image(key)))


def test_missing_cub_image_is_reported(official_cub):
    victim = next((official_cub / "images" / "002.Laysan_Albatross").iterdir())
    victim.unlink()
    with pytest.raises(ReproError, match="1 of 6 cub images"):
        data_cub.load_cub(official_cub)


def test_cub_captions_from_folder_and_archive(official_cub, tmp_path):
    folder = tmp_path / "captions"
    from_parent = data_cub.load_cub_captions(folder)
    from_dir = data_cub.load_cub_captions(folder / "text_c10")
    archive = tmp_path / "cvpr2016_cub.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "text_c10", arcname="cvpr2016_cub/text_c10")
    from_tar = data_cub.load_cub_captions(archive)
    assert from_parent == from_dir == from_tar
    keys = data_cub.load_cub(official_cub).table["image"].tolist()
    assert sorted(from_tar) == sorted(keys)
    assert from_tar[keys[0]][3] == f"caption 3 of {keys[0].split('/')[1]}"


@pytest.fixture
def official_flowers(tmp_path):
    """The official flowers layout: jpg/image_XXXXX.jpg + imagelabels.mat + setid.mat."""
    from scipy.io import savemat

    root = tmp_path / "flowers_official"
    labels = np.array([[3, 1, 2, 3, 1, 2, 1]])
    for i in range(1, labels.size + 1):
        _jpg(root / "jpg" / f"image_{i:05d}.jpg", (30 * i, 0, 0), size=(50, 40))
    savemat(root / "imagelabels.mat", {"labels": labels})
    savemat(
        root / "setid.mat",
        {"trnid": np.array([[2, 3, 4]]), "valid": np.array([[1, 5]]), "tstid": np.array([[6, 7]])},
    )
    return root


def test_official_flowers_folder_and_tgz(official_flowers, tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path / "cache"))
    a = data_flowers.load_flowers(official_flowers)
    assert a.table["class_id"].tolist() == [2, 0, 1, 2, 0, 1, 0]
    assert a.table["official_split"].tolist() == ["val", "train", "train", "train", "val", "test", "test"]
    assert a.class_names == ["class_001", "class_002", "class_003"]  # no cat_to_name.json
    assert a.open_image("image_00003").size == (50, 40)
    (official_flowers / "cat_to_name.json").write_text('{"1": "rose", "2": "lily", "3": "iris"}')
    assert data_flowers.load_flowers(official_flowers).table["class_name"].iloc[0] == "iris"
    with tarfile.open(official_flowers / "102flowers.tgz", "w:gz") as tar:
        tar.add(official_flowers / "jpg", arcname="jpg")
    shutil.rmtree(official_flowers / "jpg")
    b = data_flowers.load_flowers(official_flowers)
    assert b.table["image"].tolist() == a.table["image"].tolist()
    assert b.open_image("image_00003").size == (50, 40)


def test_flower_captions_when_present(tmp_path):
    cap = tmp_path / "text_c10" / "class_00001" / "image_06734.txt"
    cap.parent.mkdir(parents=True)
    cap.write_text("this flower has pink petals\n\nthe petals are wide\n")
    assert data_flowers.load_flowers_captions(tmp_path) == {
        "image_06734": ["this flower has pink petals", "the petals are wide"]
    }
    archive = tmp_path / "cvpr2016_flowers.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "text_c10", arcname="cvpr2016_flowers/text_c10")
    assert data_flowers.load_flowers_captions(archive) == data_flowers.load_flowers_captions(
        tmp_path / "text_c10"
    )
