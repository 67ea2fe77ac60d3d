"""Downloads against a real HTTP server on 127.0.0.1 (no other address is contacted).

Routes of the test server, each serving DATA as `/ROUTE/blob.bin` (anything else is 404):
  /files   honours Range (206 + Content-Range, 416 past the end)
  /cut     the first request sends half the bytes, then closes; later ones behave like /files
  /norange ignores Range and always answers 200 with the whole file
  /short   announces the whole file in Content-Length but sends half of it
  /status/CODE answers CODE (403, 500, ...)
"""

from __future__ import annotations

import hashlib
import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minimind_notes.cli.app import app
from minimind_notes.data.download import OVERLAP, download, resolve, resolve_all, resolve_file
from minimind_notes.errors import MiniMindError, UsageError

DATA = random.Random(0).randbytes(3 * 1024 * 1024 + 12345)
CUT_AT = 1024 * 1024 + 7


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # http.server's name
        self.server.seen.append((self.path, self.headers.get("Range")))
        parts = self.path.strip("/").split("/")
        route, name = (parts + [""])[:2]
        if route == "status":
            return self._plain(int(name), b"nope")
        if name != "blob.bin" or route not in ("files", "cut", "norange", "short"):
            return self._plain(404, b"not found")
        if route == "short":
            return self._send(200, DATA[: len(DATA) // 2], length=len(DATA))
        if route == "cut" and not self.server.cut_done:
            self.server.cut_done = True
            return self._send(200, DATA[:CUT_AT], length=len(DATA))
        start = self._range_start() if route != "norange" else None
        if start is None:
            return self._send(200, DATA)
        if start >= len(DATA):
            return self._send(416, b"", extra={"Content-Range": f"bytes */{len(DATA)}"})
        return self._send(206, DATA[start:],
                          extra={"Content-Range": f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"})

    def _range_start(self) -> int | None:
        value = self.headers.get("Range")
        if not value or not value.startswith("bytes="):
            return None
        return int(value.removeprefix("bytes=").split("-")[0])

    def _send(self, code: int, body: bytes, length: int | None = None, extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Accept-Ranges", "bytes")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _plain(self, code: int, body: bytes) -> None:
        self._send(code, body, extra={"Content-Type": "text/plain"})


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.seen, httpd.cut_done = [], False
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ("MINIMIND_DATA_URL", "HF_ENDPOINT", "MINIMIND_LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def fetch(url: str, dest: Path, **kwargs) -> Path:
    return download(url, dest, progress=False, **kwargs).path


# ------------------------------------------------------------------ download()

def test_full_download(server, tmp_path):
    dest = fetch(f"{server.base}/files/blob.bin", tmp_path / "out" / "blob.bin")
    assert dest.read_bytes() == DATA
    assert not (tmp_path / "out" / "blob.bin.part").exists()
    assert server.seen == [("/files/blob.bin", None)]


def test_resume_after_the_connection_broke_off(server, tmp_path):
    dest = tmp_path / "blob.bin"
    with pytest.raises(MiniMindError) as err:
        fetch(f"{server.base}/cut/blob.bin", dest)
    assert "broke off" in err.value.message and "blob.bin.part" in err.value.message
    assert "resume" in err.value.hint
    assert not dest.exists()
    kept = (tmp_path / "blob.bin.part").read_bytes()  # what was written before the break (<= CUT_AT)
    assert 0 < len(kept) <= CUT_AT and kept == DATA[: len(kept)]

    fetch(f"{server.base}/cut/blob.bin", dest)
    assert dest.read_bytes() == DATA
    assert server.seen[-1] == ("/cut/blob.bin", f"bytes={len(kept) - OVERLAP}-")  # re-checks its last 64 KiB


def test_resume_from_a_part_file(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(DATA[:1000])
    fetch(f"{server.base}/files/blob.bin", tmp_path / "blob.bin", sha256=hashlib.sha256(DATA).hexdigest())
    assert (tmp_path / "blob.bin").read_bytes() == DATA
    assert server.seen == [("/files/blob.bin", "bytes=0-")]  # the 1000 bytes it has are asked for again


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(b"x" * 5000)  # wrong bytes: would corrupt an append
    fetch(f"{server.base}/norange/blob.bin", tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == DATA
    assert server.seen == [("/norange/blob.bin", "bytes=0-")]


def test_complete_part_file_is_verified_and_renamed(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(DATA)
    fetch(f"{server.base}/files/blob.bin", tmp_path / "blob.bin", expected_size=len(DATA))
    assert (tmp_path / "blob.bin").read_bytes() == DATA
    assert len(server.seen) == 1  # the 416 answer was enough


def test_part_file_longer_than_the_file_starts_again(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(b"y" * (len(DATA) + 10))
    fetch(f"{server.base}/files/blob.bin", tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == DATA
    assert [r for _, r in server.seen] == [f"bytes={len(DATA) + 10 - OVERLAP}-", None]


def test_404_names_the_url_and_writes_nothing(server, tmp_path):
    url = f"{server.base}/files/missing.jsonl"
    with pytest.raises(MiniMindError) as err:
        fetch(url, tmp_path / "missing.jsonl", hint="try --source huggingface")
    assert url in err.value.message and "404" in err.value.message
    assert err.value.hint == "try --source huggingface"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code, words", [(403, "refused"), (500, "server error"), (503, "server error")])
def test_refusals_and_server_errors(server, tmp_path, code, words):
    with pytest.raises(MiniMindError) as err:
        fetch(f"{server.base}/status/{code}", tmp_path / "x.bin")
    assert str(code) in err.value.message and words in err.value.message
    assert "--source" in err.value.hint and "hf-mirror.com" in err.value.hint
    assert list(tmp_path.iterdir()) == []


def test_connection_refused(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/blob.bin"
    with pytest.raises(MiniMindError) as err:
        fetch(url, tmp_path / "blob.bin", timeout=2)
    assert "cannot connect" in err.value.message and url in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_body_shorter_than_content_length_keeps_only_the_part(server, tmp_path):
    with pytest.raises(MiniMindError) as err:
        fetch(f"{server.base}/short/blob.bin", tmp_path / "blob.bin")
    assert "/short/blob.bin" in err.value.message and "kept as" in err.value.message
    assert not (tmp_path / "blob.bin").exists()
    kept = (tmp_path / "blob.bin.part").read_bytes()
    assert 0 < len(kept) <= len(DATA) // 2 and kept == DATA[: len(kept)]


def test_wrong_size_is_deleted(server, tmp_path):  # complete as the server says, not as the catalogue says
    with pytest.raises(MiniMindError) as err:
        fetch(f"{server.base}/files/blob.bin", tmp_path / "blob.bin", expected_size=len(DATA) + 1)
    assert f"{len(DATA):,} bytes" in err.value.message and "deleted" in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_sha256_mismatch_is_deleted(server, tmp_path):
    with pytest.raises(MiniMindError) as err:
        fetch(f"{server.base}/files/blob.bin", tmp_path / "blob.bin", sha256="0" * 64)
    assert "sha256" in err.value.message and hashlib.sha256(DATA).hexdigest() in err.value.message
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ catalogue and URLs

def test_resolve_sources_and_endpoint(monkeypatch):
    url, filename, size, sha = resolve("pretrain_t2t_mini")
    assert url == "https://www.modelscope.cn/datasets/gongjy/minimind_dataset/resolve/master/pretrain_t2t_mini.jsonl"
    assert (filename, size, sha) == ("pretrain_t2t_mini.jsonl", None, None)
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.com/")
    assert resolve("dpo.jsonl", "huggingface").url == (
        "https://hf-mirror.com/datasets/jingyaogong/minimind_dataset/resolve/main/dpo.jsonl")
    assert resolve("tinystories-valid", "huggingface").url.startswith("https://hf-mirror.com/datasets/roneneldan/")


def test_every_entry_resolves_or_says_where_it_is():
    from minimind_notes.data.download import entries

    for entry in entries():
        for source in ("modelscope", "huggingface"):
            if entry.urls and source not in entry.urls and "any" not in entry.urls:
                with pytest.raises(MiniMindError, match="--source"):
                    resolve_all(entry.name, source)
                continue
            targets = resolve_all(entry.name, source)
            assert len(targets) == len(entry.files)
            assert all(t.url.startswith("https://") for t in targets)


def test_weights_bundle_and_any_file():
    targets = resolve_all("minimind2-weights", "huggingface")
    assert [t.filename for t in targets][:2] == ["full_sft_512.pth", "full_sft_768.pth"]
    assert targets[0].url == "https://huggingface.co/jingyaogong/MiniMind2-Pytorch/resolve/main/full_sft_512.pth"
    assert resolve_file("pretrain_512.pth", "modelscope", repo="model").url == (
        "https://www.modelscope.cn/models/gongjy/MiniMind2-PyTorch/resolve/master/pretrain_512.pth")
    assert resolve("some_new_file.jsonl").url.endswith("/minimind_dataset/resolve/master/some_new_file.jsonl")
    assert resolve("tinyshakespeare").filename == "tinyshakespeare.txt"


def test_bad_names():
    with pytest.raises(UsageError, match="unknown data set"):
        resolve("no_such_set")
    with pytest.raises(UsageError, match="bad file name"):
        resolve_file("../escape.jsonl")
    with pytest.raises(UsageError, match="unknown source"):
        resolve("dpo", "github")
    with pytest.raises(MiniMindError, match="only on huggingface"):
        resolve("tinystories-valid", "modelscope")


def test_url_template_override(monkeypatch):
    monkeypatch.setenv("MINIMIND_DATA_URL", "http://127.0.0.1:9/mirror/{file}")
    assert resolve("dpo").url == "http://127.0.0.1:9/mirror/dpo.jsonl"
    assert resolve("tinyshakespeare").url == "http://127.0.0.1:9/mirror/input.txt"
    assert resolve_file("a.jsonl", url_template="http://127.0.0.1:9/base/").url == "http://127.0.0.1:9/base/a.jsonl"


# ------------------------------------------------------------------ CLI

runner = CliRunner()


def test_cli_download_file(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMIND_DATA_URL", f"{server.base}/files/{{file}}")
    result = runner.invoke(app, ["data", "download", "--file", "blob.bin", "--dir", "data"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "blob.bin").read_bytes() == DATA
    again = runner.invoke(app, ["data", "download", "--file", "blob.bin", "--dir", "data"])
    assert again.exit_code == 0 and "already there" in again.output
    assert len(server.seen) == 1


def test_cli_download_name_with_url_option(server, tmp_path):
    result = runner.invoke(app, ["data", "download", "lora_identity", "--url", f"{server.base}/files"])
    assert result.exit_code == 1
    assert "404" in result.output and f"{server.base}/files/lora_identity.jsonl" in result.output
    assert "--source" not in result.output and "check the URL template" in result.output  # --url replaces them
    assert not (tmp_path / "dataset" / "lora_identity.jsonl").exists()


def test_cli_list():
    result = runner.invoke(app, ["data", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "pretrain_t2t_mini" in result.output and "minimind2-weights" in result.output
    zh = runner.invoke(app, ["data", "list", "--lang", "zh"], env={"COLUMNS": "200"})
    assert zh.exit_code == 0 and "大小为近似值" in zh.output
