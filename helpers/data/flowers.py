"""Oxford-102 Flowers (Nilsback & Zisserman 2008) for the Paper B chapters.

``load_flowers(source)`` returns an ``ImageSet`` (8,189 images, 102 classes) whose images are read
from ``flowers/flowers102_thumbs_128.tar`` by offset, or from the official ``jpg/`` folder /
``102flowers.tgz``; labels come from the official ``imagelabels.mat`` (1..102 -> ``class_id``
0..101), the official split from ``setid.mat`` and names from ``cat_to_name.json``.

Reed et al.'s flower captions are not part of the shared data: ``load_flowers_captions`` raises
``CaptionsUnavailable`` saying where to put ``cvpr2016_flowers.tar.gz``.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.io import loadmat

from helpers.core import config
from helpers.core.errors import ReproError
from helpers.data.download import REGISTRY, download
from helpers.data.image_archive import ImageSet, open_store, read_captions

THUMBS_TAR = "flowers102_thumbs_128.tar"
_IMAGE_RE = re.compile(r"(?:^|/)(image_\d{5})\.jpe?g$", re.IGNORECASE)
SPLITS = {"trnid": "train", "valid": "val", "tstid": "test"}


class CaptionsUnavailable(ReproError):
    """No caption files for this data set at the given source."""


def image_key(member: str) -> str | None:
    """``.../image_00001.jpg`` -> ``"image_00001"``."""
    m = _IMAGE_RE.search(member)
    return m.group(1) if m else None


def _image_source(folder: Path) -> Path | None:
    for candidate in (folder / THUMBS_TAR, folder / "jpg", folder / "102flowers.tgz"):
        if candidate.exists():
            return candidate
    return None


def _resolve(source: os.PathLike | None) -> tuple[Path, Path]:
    """(image source, folder with imagelabels.mat/setid.mat)."""
    if source is None:
        local = config.data_source() / "flowers"
        if _image_source(local) is not None and (local / "imagelabels.mat").is_file():
            return _resolve(local)
        for name in ("flowers-labels", "flowers-setid"):
            download(name)
        return download("flowers-images"), config.cache_root()
    path = Path(source).expanduser()
    if path.is_file():
        return path, path.parent
    if path.is_dir():
        if _image_source(path) is None and (path / "flowers").is_dir():
            return _resolve(path / "flowers")
        images = _image_source(path)
        if images is not None:
            return images, path
    raise ReproError(
        f"No Oxford-102 Flowers images at {path}: expected {THUMBS_TAR}, the official jpg/ folder "
        f"or 102flowers.tgz, next to imagelabels.mat and setid.mat."
    )


def _load_mat(path: Path, what: str) -> dict:

    if not path.is_file():
        raise ReproError(
            f"{path} is missing: put the official {path.name} ({what}) there, e.g. "
            f"from {REGISTRY['flowers-labels'].url.rsplit('/', 1)[0]}/."
        )
    try:
        return loadmat(path)
    except Exception as exc:  # scipy raises several types for a bad file
        raise ReproError(f"Cannot read {path} ({exc}); replace it with the official file.") from exc


def _table(meta: Path) -> tuple[pd.DataFrame, list[str]]:
    labels = _load_mat(meta / "imagelabels.mat", "labels")["labels"].ravel().astype(int)
    setid = _load_mat(meta / "setid.mat", "train/val/test ids")
    n = len(labels)
    split = np.full(n, "", dtype=object)
    for field, name in SPLITS.items():
        split[setid[field].ravel().astype(int) - 1] = name
    names_file = meta / "cat_to_name.json"
    names = {int(k): v for k, v in json.loads(names_file.read_text()).items()} if names_file.is_file() else {}
    n_classes = int(labels.max())
    class_names = [names.get(c, f"class_{c:03d}") for c in range(1, n_classes + 1)]
    table = pd.DataFrame(
        {
            "image_id": np.arange(1, n + 1),
            "image": [f"image_{i:05d}" for i in range(1, n + 1)],
            "class_id": labels - 1,
            "class_name": [class_names[c - 1] for c in labels],
            "official_split": split,
            "class_dir": [f"class_{c:05d}" for c in labels],  # Reed's text_c10/<class_dir>/ naming
        }
    )
    return table, class_names


def load_flowers(source: os.PathLike | str | None = None) -> ImageSet:
    """Oxford-102 Flowers as an ``ImageSet`` (8,189 images, 102 classes).

    ``source``: None -> ``config.data_source()/flowers`` when present, else the official files
    are downloaded (``102flowers.tgz`` is extracted once into the cache); or a folder holding the
    thumbnail tar / ``jpg/`` / ``102flowers.tgz`` plus ``imagelabels.mat`` and ``setid.mat``
    (``cat_to_name.json`` optional), or an image archive with those files beside it.
    ``official_split`` is "train" / "val" / "test" (setid's trnid / valid / tstid).
    """
    images, meta = _resolve(source or None)
    table, class_names = _table(meta)
    store = open_store(images, image_key)
    image_set = ImageSet("flowers", table, store, class_names, source=str(images))
    image_set.check_complete()
    return image_set


def load_flowers_captions(source: os.PathLike | str | None = None) -> dict[str, list[str]]:
    """Reed et al. (2016) flower captions: image key ("image_00001") -> 10 captions.

    ``source``: a ``cvpr2016_flowers.tar.gz``, a ``text_c10`` folder or a folder holding either;
    None looks in ``config.data_source()/flowers`` and the download cache.  Raises
    ``CaptionsUnavailable`` when none is found (the case for the shared data).
    """
    names = ("text_c10", "cvpr2016_flowers.tar.gz", "cvpr2016_flowers/text_c10")
    if source:
        path = Path(source).expanduser()
        if path.is_dir() and path.name != "text_c10":
            candidates = [f / name for f in (path, path / "flowers") for name in names]
        else:
            candidates = [path]
    else:
        candidates = [
            f / name for f in (config.data_source() / "flowers", config.cache_root()) for name in names
        ]
    for candidate in candidates:
        if candidate.exists():
            return read_captions(candidate, lambda cls, stem: stem)
    where = ", ".join(str(c) for c in candidates)
    raise CaptionsUnavailable(
        f"No Oxford-102 flower captions found (looked for {where}): put Reed et al.'s "
        f"cvpr2016_flowers.tar.gz (or its text_c10/ folder) into {config.data_source() / 'flowers'} "
        f"or pass it as `source`; download('flowers-captions') fetches it from "
        f"{REGISTRY['flowers-captions'].url} when online."
    )


def first_grey_thumbnail(source: os.PathLike | str | None = None):
    """The first Oxford-102 thumbnail of ``flowers/flowers102_thumbs_128.tar`` as a grey float32 image
    in [0, 1], or None when that archive is absent. Notebook 02 sets it beside a DeepInsight
    image (Figures A3, A4: a natural image and a review image are different domains)."""

    tar_path = config.data_source(source) / "flowers" / THUMBS_TAR
    if not tar_path.is_file():
        return None
    with tarfile.open(tar_path) as tf:
        for member in tf:
            if member.isfile() and member.name.endswith(".jpg"):
                img = Image.open(tf.extractfile(member)).convert("L")
                return np.asarray(img, dtype=np.float32) / 255.0
    return None
