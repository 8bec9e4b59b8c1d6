"""--download against a local HTTP server on the loopback address, serving small files in
the official formats: a good file, a wrong checksum, a connection dropped halfway, and the
STL-10 archive unpacked; never a partial file that looks complete."""
import hashlib
import http.server
import shutil
import threading

import pytest

from dfmgan.data import download as dl
from dfmgan.errors import DataError
from formats import write_mnist


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path.startswith("/drop/"):  # announce the whole file, send half, hang up
            data = (self.server.root / self.path.removeprefix("/drop/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        super().do_GET()

    def translate_path(self, path):
        return str(self.server.root / path.lstrip("/"))

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    write_mnist(root)  # official IDX files, gzipped, small
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.root = root
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def served_as(monkeypatch, name, root):
    """The served files' own sums stand in for the published ones."""
    remotes = tuple(dl.Remote(r.base, r.name, md5(root / r.name), r.extract)
                    for r in dl.REMOTES[name])
    monkeypatch.setitem(dl.REMOTES, name, remotes)


def test_a_good_download_is_checked_and_loads(server, tmp_path, monkeypatch):
    from dfmgan.data import load_dataset

    root, url = server
    monkeypatch.setenv("DFMGAN_DOWNLOAD_MIRROR", url)
    served_as(monkeypatch, "mnist", root)
    folder = dl.download("mnist", tmp_path / "data", progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(dl.IDX)
    assert len(load_dataset("mnist", folder, "train")) == len(load_dataset("mnist", root, "train"))
    (folder / dl.IDX[0]).write_bytes(b"stale")  # a damaged file is fetched again
    dl.download("mnist", folder, progress=False)
    assert md5(folder / dl.IDX[0]) == md5(root / dl.IDX[0])


def test_a_wrong_checksum_keeps_nothing(server, tmp_path, monkeypatch):
    _, url = server
    monkeypatch.setenv("DFMGAN_DOWNLOAD_MIRROR", url)  # the real published sums: no match
    with pytest.raises(DataError, match="is not the published"):
        dl.download("mnist", tmp_path / "data", progress=False)
    assert list((tmp_path / "data").iterdir()) == []


def test_a_connection_dropped_halfway_keeps_nothing(server, tmp_path, monkeypatch):
    root, url = server
    monkeypatch.setenv("DFMGAN_DOWNLOAD_MIRROR", url + "/drop")
    served_as(monkeypatch, "mnist", root)
    with pytest.raises(DataError, match="cannot download"):
        dl.download("mnist", tmp_path / "data", progress=False)
    assert list((tmp_path / "data").iterdir()) == []


def test_stl10_is_unpacked_and_a_stacked_set_downloads_its_base(server, tmp_path, monkeypatch):
    import tarfile

    root, url = server
    (root / "stl10_binary").mkdir()
    (root / "stl10_binary" / "class_names.txt").write_text("airplane\n")
    with tarfile.open(root / "stl10_binary.tar.gz", "w:gz") as tar:
        tar.add(root / "stl10_binary", arcname="stl10_binary")
    shutil.rmtree(root / "stl10_binary")
    monkeypatch.setenv("DFMGAN_DOWNLOAD_MIRROR", url)
    served_as(monkeypatch, "stl10", root)
    folder = dl.download("stl10", tmp_path / "stl", progress=False)
    assert (folder / "stl10_binary" / "class_names.txt").read_text() == "airplane\n"
    assert dl.source_of("stacked-fashion-mnist") == "fashion-mnist"
    monkeypatch.setenv("DFMGAN_DATA", str(tmp_path / "cache"))
    assert dl.cache_dir("stacked-mnist") == tmp_path / "cache" / "mnist"
    with pytest.raises(DataError, match="--download knows"):
        dl.source_of("lsun")


@pytest.mark.slow
def test_train_download_flag_fetches_into_the_cache_then_trains(server, tmp_path):
    import os
    import subprocess
    import sys

    root, url = server
    env = dict(os.environ, DFMGAN_DOWNLOAD_MIRROR=url, DFMGAN_DATA=str(tmp_path / "cache"))
    args = [sys.executable, "-m", "dfmgan", "train", "--data", "mnist", "--out", str(tmp_path / "r"),
            "--steps", "1", "--set", "net.g_width=8", "--set", "net.d_width=8", "--batch-size",
            "8", "--no-progress"]
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "--download" in r.stderr  # never fetched unless asked
    r = subprocess.run(args + ["--download"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "is not the published" in r.stderr  # the real sums guard it
    assert not (tmp_path / "r").exists()
