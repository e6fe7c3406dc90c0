"""Images read straight out of a tar archive (or a folder), and the torch ``Dataset`` on top.

Used by the Paper B notebooks through ``helpers.data.cub.load_cub`` and
``helpers.data.flowers.load_flowers``:

* ``TarImageStore`` indexes an *uncompressed* tar once (member name -> byte offset and size) and
  reads one image with ``os.pread``; the file is reopened in every process, so the store can be
  pickled into ``DataLoader`` workers and used from threads.
* ``FolderImageStore`` reads the same keys from an extracted folder.
* ``ImageSet`` bundles the table of images (``image_id``, ``image``, ``class_id``, ``class_name``,
  ``official_split``) with a store; ``ImageDataset`` turns it into (tensor, label) pairs.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms.functional import to_tensor

from helpers.core.errors import ReproError
from helpers.data.download import extract_once

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
KeyFn = Callable[[str], "str | None"]


def strip_ext(name: str) -> str | None:
    """Member name -> key without extension, or None when it is not an image."""
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in IMAGE_EXTENSIONS else None


def is_uncompressed_tar(path: os.PathLike) -> bool:
    """True for a plain (not gzip/bz2/xz) tar file, which can be read member by member by offset."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return False
    return len(head) == 512 and head[257:262] == b"ustar"


class TarImageStore:
    """Read members of an uncompressed tar by offset; ``key_fn(member_name)`` names them."""

    def __init__(self, path: os.PathLike, key_fn: KeyFn = strip_ext):
        self.path = Path(path)
        self._fd: int | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.index: dict[str, tuple[int, int]] = {}
        self.members: dict[str, tuple[int, int]] = {}  # every regular file, by member name
        size = self.path.stat().st_size
        try:
            with tarfile.open(self.path, mode="r:") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    if member.offset_data + member.size > size:
                        raise tarfile.ReadError("unexpected end of data")
                    self.members[member.name] = (member.offset_data, member.size)
                    key = key_fn(member.name)
                    if key is not None:
                        self.index[key] = (member.offset_data, member.size)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ReproError(
                f"Cannot read the tar archive {self.path} ({exc}); it is corrupt, truncated or "
                f"not an uncompressed tar: replace it with a good copy."
            ) from exc

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_fd"] = state["_pid"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _fileno(self) -> int:
        pid = os.getpid()
        if self._fd is None or self._pid != pid:
            with self._lock:
                if self._fd is None or self._pid != pid:
                    self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                    self._pid = pid
        return self._fd

    def _pread(self, offset: int, size: int) -> bytes:
        fd = self._fileno()
        if hasattr(os, "pread"):
            return os.pread(fd, size, offset)
        with self._lock:  # pragma: no cover - Windows
            os.lseek(fd, offset, os.SEEK_SET)
            return os.read(fd, size)

    def read(self, key: str) -> bytes:
        try:
            offset, size = self.index[key]
        except KeyError:
            raise ReproError(f"Image {key!r} is not in {self.path}.") from None
        data = self._pread(offset, size)
        if len(data) != size:
            raise ReproError(f"{self.path} is truncated: image {key!r} is incomplete.")
        return data

    def read_member(self, name: str) -> bytes:
        """Raw bytes of any regular member by its full name (metadata files inside the tar)."""
        offset, size = self.members[name]
        return self._pread(offset, size)

    def keys(self) -> list[str]:
        return list(self.index)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __repr__(self) -> str:
        return f"TarImageStore({str(self.path)!r}, {len(self.index)} images)"

    def __del__(self):
        if getattr(self, "_fd", None) is not None and self._pid == os.getpid():
            try:
                os.close(self._fd)
            except OSError:
                pass


class FolderImageStore:
    """The same interface over an extracted folder; ``key_fn(relative_path)`` names the files."""

    def __init__(self, root: os.PathLike, key_fn: KeyFn = strip_ext):
        self.path = Path(root)
        if not self.path.is_dir():
            raise ReproError(f"Image folder {self.path} does not exist.")
        self.index: dict[str, str] = {}
        for dirpath, _, files in os.walk(self.path):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), self.path).replace(os.sep, "/")
                key = key_fn(rel)
                if key is not None:
                    self.index[key] = rel

    def read(self, key: str) -> bytes:
        try:
            rel = self.index[key]
        except KeyError:
            raise ReproError(f"Image {key!r} is not in {self.path}.") from None
        return (self.path / rel).read_bytes()

    def keys(self) -> list[str]:
        return list(self.index)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __repr__(self) -> str:
        return f"FolderImageStore({str(self.path)!r}, {len(self.index)} images)"


def decode_image(data: bytes, key: str = "") -> "PIL.Image.Image":  # noqa: F821

    try:
        image = Image.open(io.BytesIO(data))
        return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ReproError(f"Image {key!r} cannot be decoded ({exc}); the archive is corrupt.") from exc


@dataclass
class ImageSet:
    """A labelled image collection: ``table`` (one row per image) plus where the pixels are.

    ``table`` columns: ``image_id`` (int), ``image`` (key without extension), ``class_id``
    (0-based int), ``class_name`` (str), ``official_split`` (str), plus data-set extras.
    """

    name: str
    table: pd.DataFrame
    store: TarImageStore | FolderImageStore = field(repr=False)
    class_names: list[str] = field(default_factory=list)
    source: str = ""

    def open_image(self, key: str) -> "PIL.Image.Image":  # noqa: F821
        """The image ``key`` as an RGB ``PIL.Image`` (read from the archive, nothing extracted)."""
        return decode_image(self.store.read(key), key)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def check_captions(self, captions: dict[str, list[str]]) -> None:
        """Raise ``ReproError`` when a caption names an image this set does not have: the caption
        files and the images come from different or damaged sources (notebook 05)."""
        known = set(self.table["image"])
        orphans = [k for k in captions if k not in known]
        if orphans:
            raise ReproError(
                f"{len(orphans)} of {len(captions)} {self.name} captions (e.g. for {orphans[0]!r}) name "
                f"images that are not in {self.source or self.store.path}; the caption files do not "
                f"match this image source: use the captions and images of the same data set."
            )

    def check_complete(self) -> None:
        """Raise ``ReproError`` unless every image of the table is in the store."""
        missing = [k for k in self.table["image"] if k not in self.store]
        if missing:
            raise ReproError(
                f"{len(missing)} of {len(self.table)} {self.name} images (e.g. {missing[0]!r}) are "
                f"missing from {self.store.path}; the archive is incomplete or the wrong folder."
            )


class ImageDataset(Dataset):
    """``torch.utils.data.Dataset`` of (image tensor, int label) read from an ``ImageSet``.

    ``transform`` maps a PIL image to a tensor (default: ``torchvision``'s ``to_tensor``).
    Picklable, so it works with ``DataLoader(num_workers>0)``.
    """

    def __init__(
        self,
        image_set: ImageSet,
        keys: Sequence[str],
        labels: Sequence[int],
        transform: Callable | None = None,
    ):
        keys = list(keys)
        labels = [int(x) for x in labels]
        if len(keys) != len(labels):
            raise ReproError(f"ImageDataset: {len(keys)} keys but {len(labels)} labels.")
        self.image_set = image_set
        self.keys = keys
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int):
        image = self.image_set.open_image(self.keys[i])
        if self.transform is not None:
            x = self.transform(image)
        else:
            x = to_tensor(image)
        return x, self.labels[i]


def open_store(path: os.PathLike, key_fn: KeyFn = strip_ext) -> TarImageStore | FolderImageStore:
    """A store over a folder, an uncompressed tar (read by offset) or a compressed tar
    (extracted once into the download cache by ``helpers.data.download.extract_once``)."""
    path = Path(path)
    if path.is_dir():
        return FolderImageStore(path, key_fn)
    if not path.is_file():
        raise ReproError(f"Image source {path} does not exist.")
    if is_uncompressed_tar(path):
        return TarImageStore(path, key_fn)
    if tarfile.is_tarfile(path) or path.name.endswith((".tgz", ".tar.gz")):
        return FolderImageStore(extract_once(path), key_fn)
    raise ReproError(f"{path} is neither a folder nor a tar archive of images.")


def iter_tar_texts(path: os.PathLike, wanted: Callable[[str], bool]):
    """Stream a (compressed) tar once, yielding ``(member_name, text)`` for wanted regular files.

    Any corruption or truncation becomes one ``ReproError`` naming the file.
    """

    path = Path(path)
    if not path.is_file():
        raise ReproError(f"Archive {path} does not exist.")
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if member.isfile() and wanted(member.name):
                    f = tar.extractfile(member)
                    data = f.read() if f is not None else b""
                    if len(data) != member.size:
                        raise EOFError("unexpected end of data")
                    yield member.name, data.decode("utf-8", errors="replace")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ReproError(
            f"Cannot read {path} ({type(exc).__name__}: {exc}); the archive is corrupt or "
            f"truncated: replace it with a good copy."
        ) from exc


def read_captions(source: os.PathLike, key_fn: Callable[[str, str], str]) -> dict[str, list[str]]:
    """Reed et al. ``text_c10/<class>/<image>.txt`` captions from a folder or a tar(.gz).

    ``key_fn(class_dir, image_stem)`` gives the image key; every non-empty line is one caption.
    """
    source = Path(source)
    captions: dict[str, list[str]] = {}

    def add(rel: str, text: str) -> None:
        parts = rel.split("/")
        key = key_fn(parts[-2], parts[-1][:-4])
        captions[key] = [line.strip() for line in text.splitlines() if line.strip()]

    def wanted(name: str) -> bool:
        parts = name.split("/")
        return len(parts) >= 3 and parts[-3] == "text_c10" and parts[-1].endswith(".txt")

    if source.is_dir():
        root = source if source.name == "text_c10" else source / "text_c10"
        if not root.is_dir():
            raise ReproError(f"No text_c10/ caption folder in {source}.")
        for path in sorted(root.glob("*/*.txt")):
            add(
                f"text_c10/{path.parent.name}/{path.name}", path.read_text(encoding="utf-8", errors="replace")
            )
    else:
        for name, text in iter_tar_texts(source, wanted):
            add(name, text)
    if not captions:
        raise ReproError(f"{source} holds no text_c10/<class>/<image>.txt caption files.")
    return dict(sorted(captions.items()))
