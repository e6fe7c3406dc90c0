"""CUB-200-2011 birds (Wah et al. 2011) and Reed et al. (2016) captions for the Paper B chapters.

``load_cub(source)`` returns an ``ImageSet`` whose images are read from
``cub/cub_200_2011_images_160px.tar`` by offset (nothing extracted) with metadata from
``cub/meta/CUB_200_2011/*.txt``; the official ``CUB_200_2011.tgz`` (file, or its extracted
``CUB_200_2011/`` folder) works as a source too.  ``load_cub_captions(source)`` maps every image key
(``"001.Black_footed_Albatross/Black_Footed_Albatross_0046_18"``) to its 10 captions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pandas as pd

from helpers.core import config
from helpers.core.errors import ReproError
from helpers.data.download import download, extract_once
from helpers.data.image_archive import (
    FolderImageStore,
    ImageSet,
    TarImageStore,
    is_uncompressed_tar,
    read_captions,
)

IMAGES_TAR = "cub_200_2011_images_160px.tar"
CAPTIONS_ARCHIVE = "cub_captions_text_c10_all200_tokenized.tar.gz"
META_FILES = ("images.txt", "image_class_labels.txt", "classes.txt", "train_test_split.txt")


def image_key(member: str) -> str | None:
    """``.../images/<class>/<image>.jpg`` -> ``"<class>/<image>"`` (None for other members)."""
    parts = member.split("/")
    if len(parts) >= 3 and parts[-3] == "images" and parts[-1].lower().endswith(".jpg"):
        return f"{parts[-2]}/{parts[-1][:-4]}"
    return None


def _meta_from_dir(folder: Path) -> Callable[[str], str] | None:
    if all((folder / name).is_file() for name in META_FILES):
        return lambda name: (folder / name).read_text()
    return None


def _meta_from_tar(store: TarImageStore) -> Callable[[str], str] | None:
    names = {Path(m).name: m for m in store.members if Path(m).parent.name == "CUB_200_2011"}
    if all(name in names for name in META_FILES):
        return lambda name: store.read_member(names[name]).decode()
    return None


def _resolve(source: os.PathLike | None) -> tuple[object, Callable[[str], str]]:
    """(image store, metadata reader) for a CUB source; see ``load_cub``."""
    if source is None:
        local = config.data_source() / "cub"
        if (local / IMAGES_TAR).is_file():
            return _resolve(local)
        return _resolve(extract_once(download("cub")))
    path = Path(source).expanduser()
    if path.is_file():
        if not is_uncompressed_tar(path):  # the official .tgz: extracted once into the cache
            return _resolve(extract_once(path))
        store = TarImageStore(path, image_key)
        meta = _meta_from_dir(path.parent / "meta" / "CUB_200_2011") or _meta_from_tar(store)
        if meta is None:
            raise ReproError(
                f"No CUB metadata (images.txt, classes.txt, ...) inside {path} or in "
                f"{path.parent / 'meta' / 'CUB_200_2011'}."
            )
        return store, meta
    if path.is_dir():
        if (path / IMAGES_TAR).is_file():
            return _resolve(path / IMAGES_TAR)
        if (path / "CUB_200_2011.tgz").is_file() and not (path / "CUB_200_2011").is_dir():
            return _resolve(path / "CUB_200_2011.tgz")
        for root in (path, path / "CUB_200_2011", path / "cub"):
            meta = _meta_from_dir(root)
            if meta is not None and (root / "images").is_dir():
                return FolderImageStore(root / "images", image_key_rel), meta
        if (path / "cub").is_dir():
            return _resolve(path / "cub")
    raise ReproError(
        f"No CUB-200-2011 data at {path}: expected {IMAGES_TAR} with meta/CUB_200_2011/, the official "
        f"CUB_200_2011.tgz, or its extracted CUB_200_2011/ folder (images/ + images.txt)."
    )


def image_key_rel(rel: str) -> str | None:
    """``<class>/<image>.jpg`` relative to ``images/`` -> key."""
    parts = rel.split("/")
    if len(parts) == 2 and parts[1].lower().endswith(".jpg"):
        return f"{parts[0]}/{parts[1][:-4]}"
    return None


def _table(read: Callable[[str], str]) -> tuple[pd.DataFrame, list[str]]:
    def rows(name: str) -> list[list[str]]:
        return [line.split() for line in read(name).splitlines() if line.strip()]

    try:
        images = {int(i): p for i, p in rows("images.txt")}
        labels = {int(i): int(c) for i, c in rows("image_class_labels.txt")}
        classes = {int(i): n for i, n in rows("classes.txt")}
        is_train = {int(i): int(t) for i, t in rows("train_test_split.txt")}
        class_names = [classes[c] for c in sorted(classes)]
        ids = sorted(images)
        table = pd.DataFrame(
            {
                "image_id": ids,
                "image": [images[i].rsplit(".", 1)[0] for i in ids],
                "class_id": [labels[i] - 1 for i in ids],
                "class_name": [classes[labels[i]] for i in ids],
                "official_split": ["train" if is_train[i] else "test" for i in ids],
            }
        )
    except (ValueError, KeyError) as exc:
        raise ReproError(
            f"The CUB metadata files are malformed ({exc}); use the official CUB_200_2011 text files."
        ) from exc
    table["class_dir"] = table["class_name"]  # image and caption folder (as for flowers)
    table["common_name"] = table["class_name"].str.split(".", n=1).str[-1].str.replace("_", " ")
    return table, class_names


def load_cub(source: os.PathLike | str | None = None) -> ImageSet:
    """CUB-200-2011 as an ``ImageSet`` (11,788 images, 200 classes).

    ``source``: None -> ``config.data_source()/cub`` when it holds the image tar, else the official
    ``CUB_200_2011.tgz`` is downloaded and extracted once into the cache; or a path to the
    ``cub/`` folder, the image tar, the official ``.tgz`` or its extracted ``CUB_200_2011/`` folder.
    ``class_name`` is the official ``classes.txt`` name ("001.Black_footed_Albatross"),
    ``common_name`` its readable form ("Black footed Albatross"), ``class_dir`` the image folder,
    ``official_split`` the official "train"/"test".
    """
    source = source or None
    store, meta = _resolve(source)
    table, class_names = _table(meta)
    image_set = ImageSet("cub", table, store, class_names, source=str(store.path))
    image_set.check_complete()
    return image_set


def _captions_source(source: os.PathLike | None) -> Path:
    if source is None:
        local = config.data_source() / "cub" / CAPTIONS_ARCHIVE
        return local if local.is_file() else download("cub-captions")
    path = Path(source).expanduser()
    if path.is_dir() and path.name != "text_c10" and not (path / "text_c10").is_dir():
        for candidate in (
            path / CAPTIONS_ARCHIVE,
            path / "cub" / CAPTIONS_ARCHIVE,
            path / "cvpr2016_cub.tar.gz",
        ):
            if candidate.is_file():
                return candidate
        raise ReproError(
            f"No CUB captions in {path}: expected {CAPTIONS_ARCHIVE}, "
            f"cvpr2016_cub.tar.gz or a text_c10/ folder."
        )
    return path


def load_cub_captions(source: os.PathLike | str | None = None) -> dict[str, list[str]]:
    """Reed et al. (2016) CUB captions: image key -> 10 captions (``text_c10``).

    ``source``: None -> the shared tokenised archive if present, else ``download("cub-captions")``;
    or a ``.tar.gz`` holding ``text_c10/<class>/<image>.txt``, a ``text_c10`` folder or its parent.
    """
    return read_captions(_captions_source(source or None), lambda cls, stem: f"{cls}/{stem}")
