"""Bad input gives one clear ReproError and leaves no partial artifact (issue 9, item 4).

Generated inputs only (the real archives' truncations are in test_data_images/test_data_imdb).
Other bad inputs are tested beside their code: a wrong checksum (test_download:
test_checksum_mismatch_deletes_the_bad_file), a profile value of the wrong type
(test_run: test_parameter_of_the_wrong_type_is_refused), ``device: cuda`` without a GPU
(test_training: test_devices_and_seeding).
"""

import errno
import io
import re
import tarfile

import numpy as np
import pandas as pd
import pytest

from helpers.core import artifacts
from helpers.core.errors import ReproError
from helpers.data import download, image_archive


def _tar(path, members: dict[str, bytes], mode="w"):
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


IMAGES = {f"images/001.Bird/img_{i}.jpg": bytes([i]) * 5000 for i in range(3)}
CAPTIONS = {f"cvpr/text_c10/001.Bird/img_{i}.txt": b"a small bird\nwith a red head\n" for i in range(3)}


def test_truncated_image_tar(tmp_path):
    good = _tar(tmp_path / "good.tar", IMAGES)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(good.read_bytes()[:7000])  # cut inside the second image
    with pytest.raises(ReproError, match=re.escape(str(bad)) + r".*corrupt, truncated") as err:
        image_archive.TarImageStore(bad)
    assert "\n" not in str(err.value)


def test_corrupt_image_tar(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x00garbage" * 2000)
    with pytest.raises(ReproError, match="corrupt, truncated or not an uncompressed tar"):
        image_archive.TarImageStore(bad)


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_caption_archive(tmp_path, damage):
    good = _tar(tmp_path / "c.tar.gz", CAPTIONS, mode="w:gz").read_bytes()
    bad = tmp_path / "bad.tar.gz"
    if damage == "truncated":
        bad.write_bytes(good[: len(good) // 2])
    else:  # flip bytes in the middle of the compressed stream
        bad.write_bytes(good[:40] + bytes(b ^ 0xFF for b in good[40:80]) + good[80:])
    with pytest.raises(ReproError, match=re.escape(str(bad)) + r".*corrupt or truncated"):
        image_archive.read_captions(bad, lambda cls, stem: f"{cls}/{stem}")


def test_truncated_compressed_archive_leaves_no_half_extraction(tmp_path):
    good = _tar(tmp_path / "a.tgz", IMAGES, mode="w:gz").read_bytes()
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ReproError, match="corrupt or truncated, delete it and download it again"):
        download.extract_once(bad, tmp_path / "out" / "bad")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_wrong_checksum_of_a_local_file(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert not download.verify(f, "sha256:" + "0" * 64)
    assert download.verify(f, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    with pytest.raises(ReproError, match="Bad checksum"):
        download.verify(f, "crc32:1234")


def _image_set(keys):
    table = pd.DataFrame(
        {
            "image_id": range(len(keys)),
            "image": keys,
            "class_id": 0,
            "class_name": "Bird",
            "official_split": "train",
        }
    )
    store = image_archive.FolderImageStore.__new__(image_archive.FolderImageStore)
    return image_archive.ImageSet("cub", table, store, ["Bird"], source="/data/cub")


def test_caption_for_a_missing_image(tmp_path):
    src = _tar(tmp_path / "c.tar.gz", CAPTIONS, mode="w:gz")
    captions = image_archive.read_captions(src, lambda cls, stem: f"{cls}/{stem}")
    _image_set([f"001.Bird/img_{i}" for i in range(3)]).check_captions(captions)  # all match
    with pytest.raises(
        ReproError,
        match=r"1 of 3 cub captions \(e.g. for '001.Bird/img_2'\) name images "
        r"that are not in /data/cub",
    ):
        _image_set([f"001.Bird/img_{i}" for i in range(2)]).check_captions(captions)


# --------------------------------------------------------------------------- a full disk


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_inside_the_build_keeps_nothing(tmp_path, monkeypatch):
    art = artifacts.Artifact("04_t", {"n": 1}, run="q", root=tmp_path)
    monkeypatch.setattr(np, "save", _full_disk)
    with pytest.raises(
        ReproError,
        match=r"No space left on the device while writing the artifact of 04_t "
        r"\(No space left on device\); nothing was kept",
    ):
        with art.build() as tmp:
            (tmp / "small.txt").write_text("written before the disk filled up")
            np.save(tmp / "big.npy", np.zeros(10))
    assert not art.exists() and not art.path.exists()
    assert list(art.path.parent.iterdir()) == []  # no temporary folder either
    with pytest.raises(ReproError, match="No finished artifact"):
        artifacts.latest("q", "04_t", root=tmp_path)


def test_full_disk_writing_the_marker_keeps_nothing(tmp_path, monkeypatch):
    from pathlib import Path

    art = artifacts.Artifact("04_t", {"n": 2}, run="q", root=tmp_path)
    real = Path.write_text

    def write_text(self, *a, **k):
        if self.name == artifacts.DONE:
            _full_disk()
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(ReproError, match="No space left"):
        with art.build() as tmp:
            (tmp / "x.txt").write_text("data")
    assert not art.path.exists() and list(art.path.parent.iterdir()) == []


def test_full_disk_during_a_chunk_leaves_no_half_chunk(tmp_path, monkeypatch):
    def half_save(path, arr):
        with open(path, "wb") as f:
            f.write(b"\x93NUMPY half")  # the disk fills up after a few bytes
        _full_disk()

    monkeypatch.setattr(np, "save", half_save)
    with pytest.raises(OSError):
        artifacts.resumable_chunks(tmp_path / "s", 4, 2, lambda a, b: np.arange(a, b))
    assert list((tmp_path / "s").iterdir()) == []


def test_other_os_errors_are_not_disguised(tmp_path):
    art = artifacts.Artifact("04_t", {"n": 3}, run="q", root=tmp_path)
    with pytest.raises(PermissionError):
        with art.build():
            raise PermissionError(errno.EACCES, "Permission denied")
    assert not art.path.exists()
