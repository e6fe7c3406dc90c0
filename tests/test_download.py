"""helpers.data.download against a local threaded HTTP server on 127.0.0.1 (no internet needed)."""

from __future__ import annotations

import hashlib
import http.server
import io
import random
import socket
import tarfile
import threading

import pytest

from helpers.data import download as dl
from helpers.data.download import DownloadError, Resource, download, verify


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (path -> bytes) with single-range ``Range: bytes=N-`` support."""

    def do_GET(self):  # noqa: N802 - http.server API
        self.server.requests.append((self.path, self.headers.get("Range")))
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and self.server.ranges:
            start = int(rng[len("bytes=") :].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if self.path.endswith(".html"):
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.drop_after is not None:  # simulate a connection lost mid-transfer
            body = body[: self.server.drop_after]
            self.server.drop_after = None
            self.close_connection = True
        self.server.sent += len(body)  # counted before the client can see the last byte
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.sent, srv.ranges, srv.drop_after = {}, [], 0, True, None
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def _archive(n_files: int = 20) -> bytes:
    """A small real .tar.gz (random-ish text members), built in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(n_files):
            payload = random.Random(i).randbytes(20_000)  # incompressible: a real-sized body
            info = tarfile.TarInfo(f"data/file_{i}.txt")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _resource(server, data: bytes, checksum: str | None = "auto", name="toy") -> Resource:
    server.files[f"/{name}.tar.gz"] = data
    if checksum == "auto":
        checksum = "sha256:" + hashlib.sha256(data).hexdigest()
    return Resource(name, f"{server.base}/{name}.tar.gz", f"{name}.tar.gz", checksum)


def test_registry_has_the_official_sources():
    assert set(dl.REGISTRY) >= {
        "imdb",
        "cub",
        "flowers-images",
        "flowers-labels",
        "flowers-setid",
        "cub-captions",
        "flowers-captions",
    }
    assert dl.REGISTRY["imdb"].url == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert dl.REGISTRY["cub"].checksum == "md5:97eceeb196236b17998738112f37df78"
    for res in dl.REGISTRY.values():
        assert res.url.startswith("https://")
        assert res.checksum is None or res.checksum.split(":")[0] in ("sha256", "md5")


def test_fresh_download_then_cache_hit_without_network(server, tmp_path):
    data = _archive()
    res = _resource(server, data)
    path = download(res, tmp_path, progress=False)
    assert path == tmp_path / "toy.tar.gz"
    assert path.read_bytes() == data
    assert not (tmp_path / "toy.tar.gz.part").exists()
    with tarfile.open(path) as tar:
        assert len(tar.getnames()) == 20
    server.shutdown()
    server.server_close()  # nothing listens any more: a network access would fail
    assert download(res, tmp_path, progress=False) == path
    assert len(server.requests) == 1


def test_resume_from_truncated_part_file(server, tmp_path):
    data = _archive()
    res = _resource(server, data)
    cut = len(data) // 3
    (tmp_path / "toy.tar.gz.part").write_bytes(data[:cut])
    path = download(res, tmp_path, progress=False)
    assert path.read_bytes() == data
    assert server.requests == [("/toy.tar.gz", f"bytes={cut}-")]
    assert server.sent == len(data) - cut  # only the missing tail travelled


def test_interrupted_download_keeps_part_and_resumes(server, tmp_path):
    data = _archive()
    res = _resource(server, data)
    server.drop_after = 50_000
    with pytest.raises(DownloadError, match="interrupted"):
        download(res, tmp_path, progress=False)
    part = tmp_path / "toy.tar.gz.part"
    assert part.stat().st_size == 50_000 and not (tmp_path / "toy.tar.gz").exists()
    assert download(res, tmp_path, progress=False).read_bytes() == data
    assert server.requests[-1] == ("/toy.tar.gz", "bytes=50000-")


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    data = _archive()
    res = _resource(server, data)
    server.ranges = False
    (tmp_path / "toy.tar.gz.part").write_bytes(data[:100])
    assert download(res, tmp_path, progress=False).read_bytes() == data


def test_complete_part_file_is_finished_on_416(server, tmp_path):
    data = _archive()
    res = _resource(server, data)
    (tmp_path / "toy.tar.gz.part").write_bytes(data)
    assert download(res, tmp_path, progress=False).read_bytes() == data


def test_checksum_mismatch_deletes_the_bad_file(server, tmp_path):
    res = _resource(server, _archive(), checksum="sha256:" + "0" * 64)
    with pytest.raises(DownloadError, match="Checksum mismatch"):
        download(res, tmp_path, progress=False)
    assert not (tmp_path / "toy.tar.gz").exists()
    assert not (tmp_path / "toy.tar.gz.part").exists()


def test_md5_checksum_and_url_override(server, tmp_path):
    data = _archive(3)
    server.files["/mirror/toy.tar.gz"] = data
    res = Resource("toy", "http://127.0.0.1:9/unused", "toy.tar.gz", "md5:" + hashlib.md5(data).hexdigest())
    path = download(res, tmp_path, url=f"{server.base}/mirror/toy.tar.gz", progress=False)
    assert verify(path, res.checksum)


def test_unknown_checksum_is_recorded(server, tmp_path, capsys):
    data = _archive(3)
    res = _resource(server, data, checksum=None)
    download(res, tmp_path, progress=False)
    digest = hashlib.sha256(data).hexdigest()
    assert (tmp_path / "toy.tar.gz.sha256").read_text().split()[0] == digest
    assert digest in capsys.readouterr().out


def test_unreachable_port_says_offline_and_data_source(tmp_path):
    with socket.socket() as s:  # a free port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.tar.gz"
    res = Resource("x", url, "x.tar.gz", None)
    with pytest.raises(DownloadError) as err:
        download(res, tmp_path, progress=False, timeout=5)
    assert url in str(err.value) and "data_source" in str(err.value)
    assert not (tmp_path / "x.tar.gz").exists()


def test_http_404_is_a_download_error(server, tmp_path):
    res = Resource("gone", f"{server.base}/gone.tar.gz", "gone.tar.gz", None)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(res, tmp_path, progress=False)


def test_html_page_instead_of_the_file(server, tmp_path):
    server.files["/confirm.html"] = b"<html>Google Drive can't scan this file for viruses</html>"
    res = Resource("drive", f"{server.base}/confirm.html", "cvpr2016_cub.tar.gz", None)
    with pytest.raises(DownloadError, match="web page"):
        download(res, tmp_path, progress=False)
    assert not (tmp_path / "cvpr2016_cub.tar.gz").exists()


def test_unknown_resource_name():
    with pytest.raises(DownloadError, match="Unknown data resource"):
        download("no-such-data")


def test_verify(tmp_path):
    f = tmp_path / "a.bin"
    assert not verify(f, None)
    f.write_bytes(b"abc")
    assert verify(f, None)
    assert verify(f, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert verify(f, "md5:900150983cd24fb0d6963f7d28e17f72")
    assert not verify(f, "md5:00000000000000000000000000000000")


def test_shared_flowers_mat_files_match_the_registry(shared_data):
    folder = shared_data / "flowers"
    assert verify(folder / "imagelabels.mat", dl.REGISTRY["flowers-labels"].checksum)
    assert verify(folder / "setid.mat", dl.REGISTRY["flowers-setid"].checksum)


def test_extract_once(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_archive(4))
    out = dl.extract_once(archive, tmp_path / "out")
    assert sorted(p.name for p in (out / "data").iterdir()) == [f"file_{i}.txt" for i in range(4)]
    (out / "data" / "file_0.txt").unlink()
    assert dl.extract_once(archive, tmp_path / "out") == out  # done once, not again
    assert not (out / "data" / "file_0.txt").exists()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(dl.ReproError, match="corrupt or truncated"):
        dl.extract_once(bad, tmp_path / "bad")


def test_command_line(server, tmp_path, capsys, monkeypatch):
    assert dl.main([]) == 0
    assert "aclImdb_v1.tar.gz" in capsys.readouterr().out
    data = _archive(2)
    res = _resource(server, data)
    monkeypatch.setitem(dl.REGISTRY, "toy", res)
    assert dl.main(["toy", "--cache-dir", str(tmp_path)]) == 0
    assert (tmp_path / "toy.tar.gz").read_bytes() == data
    monkeypatch.setitem(dl.REGISTRY, "gone", Resource("gone", f"{server.base}/gone", "gone", None))
    assert dl.main(["gone", "--cache-dir", str(tmp_path)]) == 1
    assert "HTTP 404" in capsys.readouterr().out
