"""Official data sources and a small, resumable, checksum-verifying downloader.

Used by the data loaders (``helpers.data.imdb``, ``helpers.data.cub``, ``helpers.data.flowers``)
when no local copy of a data set is found; ``python -m helpers.data.download`` lists ``REGISTRY`` so a
reader knows exactly which official files the book's data comes from ("Running the book" page).

* Streaming download with a ``tqdm`` progress bar into ``<cache>/<filename>.part``.
* An interrupted download resumes with an HTTP ``Range`` request.
* The finished file is checksum-verified and only then renamed into place (atomic rename), so
  a file at its final name is always complete.
* A file already in the cache is returned without touching the network.
* Every failure is a ``DownloadError`` (a ``ReproError``) saying which URL failed and what to do.

When a resource's checksum is unknown (``None``, the Reed et al. caption archives) the sha256 of
the first download is written next to the file as ``<filename>.sha256`` and reported.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import socket
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from helpers.core.config import cache_root
from helpers.core.errors import ReproError

CHUNK = 1 << 20


class DownloadError(ReproError):
    """A download failed (offline, HTTP error, checksum mismatch)."""


@dataclass(frozen=True)
class Resource:
    """One downloadable file: ``checksum`` is ``"sha256:<hex>"``, ``"md5:<hex>"`` or None."""

    name: str
    url: str
    filename: str
    checksum: str | None
    note: str = ""


_REED = "https://drive.usercontent.google.com/download?export=download&confirm=t&id="

REGISTRY: dict[str, Resource] = {
    r.name: r
    for r in [
        Resource(
            "imdb",
            "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            "aclImdb_v1.tar.gz",
            "sha256:c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
            "Large Movie Review Dataset v1.0 (Maas et al. 2011); checksum as in torchtext's IMDB.",
        ),
        Resource(
            "cub",
            "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
            "CUB_200_2011.tgz",
            "md5:97eceeb196236b17998738112f37df78",
            "Caltech-UCSD Birds-200-2011 (Wah et al. 2011), official CaltechDATA record.",
        ),
        Resource(
            "flowers-images",
            "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",
            "102flowers.tgz",
            "md5:52808999861908f626f3c1f4e79d11fa",
            "Oxford 102 Flowers (Nilsback & Zisserman 2008) images; md5 as in torchvision.",
        ),
        Resource(
            "flowers-labels",
            "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat",
            "imagelabels.mat",
            "md5:e0620be6f572b9609742df49c70aed4d",
            "Oxford 102 Flowers labels 1..102.",
        ),
        Resource(
            "flowers-setid",
            "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/setid.mat",
            "setid.mat",
            "md5:a5357ecc9cb78c4bef273ce3793fc85c",
            "Oxford 102 Flowers official train/val/test ids.",
        ),
        Resource(
            "cub-captions",
            _REED + "0B0ywwgffWnLLZW9uVHNjb2JmNlE",
            "cvpr2016_cub.tar.gz",
            None,
            "Reed et al. 2016 captions (text_c10), Google Drive link of github.com/reedscot/cvpr2016; "
            "checksum unknown: the sha256 of the first download is recorded next to the file.",
        ),
        Resource(
            "flowers-captions",
            _REED + "0B0ywwgffWnLLcms2WWJQRFNSWXM&resourcekey=0-Av8zFbeDDvNcF1sSjDR32w",
            "cvpr2016_flowers.tar.gz",
            None,
            "Reed et al. 2016 captions (text_c10), Google Drive link of github.com/reedscot/cvpr2016; "
            "checksum unknown: the sha256 of the first download is recorded next to the file.",
        ),
    ]
}


def _resolve(resource: str | Resource) -> Resource:
    if isinstance(resource, Resource):
        return resource
    try:
        return REGISTRY[resource]
    except KeyError:
        raise DownloadError(
            f"Unknown data resource {resource!r}; known: {', '.join(sorted(REGISTRY))}."
        ) from None


def file_hash(path: os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _split_checksum(checksum: str) -> tuple[str, str]:
    algorithm, sep, digest = checksum.partition(":")
    algorithm = algorithm.lower()
    if not sep or algorithm not in ("sha256", "md5") or not digest:
        raise ReproError(f"Bad checksum {checksum!r}: write it as 'sha256:<hex>' or 'md5:<hex>'.")
    return algorithm, digest.lower()


def verify(path: os.PathLike, checksum: str | None) -> bool:
    """True when ``path`` exists and matches ``checksum`` (None: any existing file matches)."""
    path = Path(path)
    if not path.is_file():
        return False
    if checksum is None:
        return True
    algorithm, digest = _split_checksum(checksum)
    return file_hash(path, algorithm) == digest


def _offline_error(url: str, name: str, exc: BaseException) -> DownloadError:
    return DownloadError(
        f"Cannot download {name!r} from {url} ({exc}): the machine seems offline or the server is "
        f"unreachable; download the file elsewhere and pass its folder (or the file) as "
        f"`data_source`, or put it into the download cache {cache_root()}."
    )


def _open(url: str, start: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "repro-book/0.1"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(request, timeout=timeout)


def download(
    resource: str | Resource,
    cache_dir: os.PathLike | None = None,
    *,
    url: str | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> Path:
    """Download one registry resource into the cache and return its path.

    ``resource`` is a ``REGISTRY`` name or a ``Resource``; ``url`` overrides its URL (a mirror);
    ``cache_dir`` defaults to ``helpers.core.config.cache_root()``.  A complete cached file is returned
    without network access; a ``.part`` file left by an interrupted download is resumed.
    """
    res = _resolve(resource)
    url = url or res.url
    cache = Path(cache_dir) if cache_dir is not None else cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / res.filename
    part = cache / (res.filename + ".part")

    if target.is_file():
        # Verified before the rename, so a file at its final name is complete; re-hashing a
        # multi-GB archive on every call would cost more than it protects.
        return target

    start = part.stat().st_size if part.is_file() else 0
    try:
        response = _open(url, start, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # the .part already holds the whole file
            response = None
        else:
            raise DownloadError(
                f"Download of {res.name!r} from {url} failed with HTTP {exc.code} {exc.reason}; "
                f"check the URL or pass a local copy as `data_source`."
            ) from exc
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        raise _offline_error(url, res.name, exc) from exc

    if response is not None:
        with response:
            status = getattr(response, "status", 200)
            if start and status != 206:  # server ignored Range: start again
                start = 0
            content_type = response.headers.get("Content-Type", "")
            if content_type.startswith("text/html") and not res.filename.endswith(".html"):
                raise DownloadError(
                    f"{url} answered with a web page instead of {res.filename} (a login or "
                    f"confirmation page?); download the file in a browser and pass it as "
                    f"`data_source` or put it into {cache}."
                )
            length = response.headers.get("Content-Length")
            total = int(length) + start if length and length.isdigit() else None
            try:
                bar = tqdm(
                    total=total,
                    initial=start,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=res.filename,
                    disable=not progress,
                )
                received = 0
                with bar, open(part, "ab" if start else "wb") as out:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        received += len(block)
                        bar.update(len(block))
                if length and length.isdigit() and received < int(length):
                    raise ConnectionError(f"connection closed after {received} of {length} bytes")
            except (
                urllib.error.URLError,
                socket.timeout,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,
            ) as exc:
                raise DownloadError(
                    f"Download of {res.name!r} from {url} was interrupted ({exc}); run it again to "
                    f"resume from {part}."
                ) from exc

    if res.checksum is not None:
        if not verify(part, res.checksum):
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"Checksum mismatch for {res.name!r} downloaded from {url} (expected "
                f"{res.checksum}); the bad file was deleted, download it again or check the mirror."
            )
    else:
        digest = file_hash(part, "sha256")
        (cache / (res.filename + ".sha256")).write_text(f"{digest}  {res.filename}\n")
        print(f"{res.name}: no published checksum; recorded sha256:{digest} in {res.filename}.sha256")
    os.replace(part, target)
    return target


def extract_once(archive: os.PathLike, dest: os.PathLike | None = None) -> Path:
    """Extract a (compressed) tar archive once (default ``<cache>/extracted/<name>/``); return it.

    Used when an official archive is compressed (``CUB_200_2011.tgz``, ``102flowers.tgz``): its
    members cannot be read by offset, so it is unpacked into the cache the first time.
    """

    archive = Path(archive)
    if dest is None:
        dest = cache_root() / "extracted" / archive.name
    dest = Path(dest)
    if (dest / ".complete").is_file():
        return dest
    tmp = dest.with_name(dest.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    print(f"Extracting {archive} once into {dest} ...")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ReproError(
            f"Cannot extract {archive}: {exc}; the archive is corrupt or truncated, "
            f"delete it and download it again."
        ) from exc
    (tmp / ".complete").write_text(archive.name)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.data.download [NAME ...]``: list the registry or download resources."""

    parser = argparse.ArgumentParser(prog="python -m helpers.data.download", description=main.__doc__)
    parser.add_argument("names", nargs="*", help=f"resources to fetch: {', '.join(REGISTRY)}")
    parser.add_argument("--cache-dir", default=None, help="default: REPRO_CACHE or ~/.cache/repro-book")
    args = parser.parse_args(argv)
    if not args.names:
        for res in REGISTRY.values():
            print(f"{res.name:17s} {res.checksum or 'checksum unknown':42s} {res.url}")
        return 0
    try:
        for name in args.names:
            print(download(name, args.cache_dir))
    except ReproError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
