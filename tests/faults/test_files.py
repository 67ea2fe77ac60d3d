"""Fault tests: files in a format we cannot handle are refused, never misread; a learner's files
(tokenizers, exports, notes, progress, downloads) are never lost or overwritten unasked; each
failure is one message (what, where, what to do), checked before the work it would waste.

Real processes of `python -m minimind_notes`, real files, a real loopback HTTP server.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import torch

from minimind_notes.content import data_dir
from minimind_notes.data.jsonl import DataError, iter_jsonl
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM, save_checkpoint
from tests.faults.loopback import loopback_server

ROOT = Path(__file__).resolve().parents[2]
ROWS = [{"text": f"Mia counted {i} apples by the river, then {i + 1}."} for i in range(20)]


def cli(*args: object, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m minimind_notes ARGS` in a fresh process importing this checkout."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "minimind_notes", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd or ROOT, timeout=300)


def failed(out: subprocess.CompletedProcess, *facts: str, code: int = 1) -> str:
    """Exit `code`, one message without a traceback or 'internal error', every fact in it."""
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    message = " ".join(out.stderr.split())  # rich may wrap long lines
    assert "Traceback" not in message and "internal error" not in message, out.stderr
    for fact in facts:
        assert fact in message, (fact, out.stderr)
    return message


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A tiny model with the shipped tokenizer's vocabulary."""
    torch.manual_seed(0)
    config = MiniMindConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                            vocab_size=MiniMindTokenizer.from_dir().vocab_size, max_position_embeddings=128)
    return save_checkpoint(MiniMindForCausalLM(config), tmp_path_factory.mktemp("ckpt") / "full_sft_32.safetensors")


# ================================================================== 1. rows or plain text, by content

@pytest.mark.parametrize("name, text", [
    ("pv.json", jsonl(ROWS)),  # JSONL saved as .json
    ("PV.JSONL", jsonl(ROWS)),  # the suffix in capitals
    ("rows.json", json.dumps(ROWS, indent=1)),  # json.dump(rows): one array
])
def test_rows_are_read_as_rows_whatever_the_suffix_says(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    out = cli("data", "prepare", tmp_path / name)
    assert out.returncode == 0, out.stderr
    assert f"{len(ROWS)} documents" in " ".join(out.stdout.split())  # not 1 document of JSON text


def test_rows_under_a_text_name_are_refused_and_plain_text_still_works(tmp_path):
    rows = tmp_path / "rows.txt"
    rows.write_text("\n" + jsonl(ROWS), encoding="utf-8")
    for command in (["data", "prepare", rows], ["tokenizer", "train", "--data", rows, "--out", tmp_path / "tok"]):
        failed(cli(*command), f"{rows}:2: this line is a JSON row", "read as plain text", "rename it rows.jsonl")
    array = tmp_path / "rows.txt"
    array.write_text(json.dumps(ROWS, indent=1), encoding="utf-8")
    failed(cli("data", "prepare", array), "a JSON array of rows", "rename it rows.json")
    story = tmp_path / "story.txt"
    story.write_text("Once upon a time {\"text\": not a row} there was a river.\nMia walked to it.\n")
    out = cli("data", "prepare", story)
    assert out.returncode == 0 and "1 documents" in " ".join(out.stdout.split()), out.stderr


def test_a_broken_json_array_names_its_line(tmp_path):
    broken = tmp_path / "rows.json"
    broken.write_text('[\n  {"text": "a"},\n  {"text": "b"}\n  {"text": "c"}\n]\n')
    failed(cli("data", "prepare", broken), f"{broken}:4: expected , or ] after the row of line 3",
           "one JSON array of {...} rows")
    broken.write_text('[\n  {"text": "a"},\n  {"text": ')
    failed(cli("data", "prepare", broken), f"{broken}:3: not valid JSON")
    mixed = tmp_path / "mixed.json"
    mixed.write_text('[{"text": "a"},\n 5,\n {"text": "b"}]')
    failed(cli("data", "prepare", mixed), f"{mixed}:2: not a JSON object", "--skip-bad")
    out = cli("data", "prepare", mixed, "--skip-bad")
    assert out.returncode == 0 and "2 documents" in out.stdout and "skipped 1 bad lines" in out.stdout


@pytest.mark.parametrize("name, head, fact", [
    ("pretrain.jsonl.gz", b"\x1f\x8b\x08\x00\x00", "gzip-compressed file, not text"),
    ("pretrain.parquet", b"PAR1\x15\x04\x15\xff\xfe", "Parquet file, not text"),
])
def test_compressed_or_parquet_data_is_named_not_sent_to_iconv(tmp_path, name, head, fact):
    path = tmp_path / name
    path.write_bytes(head + b"\n\x00\xff" * 10)
    for flags in ([], ["--skip-bad"]):  # no line of it can be skipped into a data set
        message = failed(cli("data", "prepare", path, *flags), f"{path} is a {fact}")
        assert "iconv" not in message


def test_json_array_rows_carry_the_line_they_start_on(tmp_path):
    path = tmp_path / "sft.json"
    path.write_text('\ufeff[\n {"a": 1},\n\n {"b":\n  2}, {"c": 3}\n]\n', encoding="utf-8")
    assert [line for line, _ in iter_jsonl(path)] == [2, 4, 5]
    path.write_text('[{"a": 1}]\n{"b": 2}\n')
    with pytest.raises(DataError, match=r"sft.json:2: more text after the JSON array"):
        list(iter_jsonl(path))


# ================================================================== 2-3. tokenizer train

def test_tokenizer_train_on_no_text_is_refused_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    failed(cli("tokenizer", "train", "--data", empty, "--out", tmp_path / "tok"), f"{empty}: no text in it")
    assert not (tmp_path / "tok").exists()


def test_tokenizer_train_never_replaces_a_tokenizer_unasked(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(jsonl(ROWS), encoding="utf-8")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "tokenizer.json").write_text("my tokenizer")
    failed(cli("tokenizer", "train", "--data", corpus, "--out", mine, "--vocab-size", "300"),
           f"{mine} already holds a tokenizer", "--overwrite", "another --out")
    assert (mine / "tokenizer.json").read_text() == "my tokenizer"
    out = cli("tokenizer", "train", "--data", corpus, "--out", mine, "--vocab-size", "300", "--overwrite")
    assert out.returncode == 0 and MiniMindTokenizer.from_dir(mine).vocab_size == 300, out.stderr

    shipped = data_dir() / "tokenizer" / "tokenizer.json"
    before = shipped.read_bytes()
    for flags in ([], ["--overwrite"]):
        failed(cli("tokenizer", "train", "--data", corpus, "--out", "data/../data/tokenizer", *flags),
               "is the shipped tokenizer", "--out my_tokenizer", code=2)
    assert shipped.read_bytes() == before

    start = time.perf_counter()
    out = cli("tokenizer", "train", "--out", corpus)  # a file, with the (slow) embedded corpus
    failed(out, f"--out {corpus} is a file", "new folder name", code=2)
    assert "Trained" not in out.stdout and time.perf_counter() - start < 20


# ================================================================== 4. export

def test_export_into_someones_folder_needs_overwrite(tmp_path, ckpt):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "config.json").write_text('{"keep": "me"}')
    failed(cli("export", ckpt, theirs), f"export target {theirs} is not empty", "config.json", "--overwrite")
    assert (theirs / "config.json").read_text() == '{"keep": "me"}'
    out = cli("export", ckpt, theirs, "--overwrite")
    assert out.returncode == 0 and json.loads((theirs / "config.json").read_text())["model_type"], out.stderr


def test_export_refuses_a_tokenizer_that_does_not_load(tmp_path, ckpt):
    tok = tmp_path / "tok"
    tok.mkdir()
    (tok / "tokenizer.json").write_text("{ not json")
    failed(cli("export", ckpt, tmp_path / "hf", "--tokenizer", tok), f"cannot read tokenizer {tok / 'tokenizer.json'}")
    assert not (tmp_path / "hf").exists()
    (tok / "tokenizer.json").write_text("{}")
    failed(cli("export", ckpt, tmp_path / "hf", "--tokenizer", tok), "cannot read tokenizer")
    assert not (tmp_path / "hf").exists()


# ================================================================== 5-6. output paths checked first

def test_run_out_that_cannot_be_a_folder_stops_before_the_experiment(tmp_path):
    taken = tmp_path / "results.txt"
    taken.write_text("keep me")
    for out_dir in (taken, taken / "sub"):
        out = cli("run", "norm", "1", "--out", out_dir)
        failed(out, f"{taken} is a file, not a folder", "pass --out a folder you can write to")
        assert "Running" not in out.stdout and "✓" not in out.stdout  # nothing ran
    assert taken.read_text() == "keep me"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_run_out_in_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    failed(cli("run", "norm", "1", "--out", locked / "r"), f"no permission to write in {locked}")


def test_plot_checks_the_image_format_first(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 2.5}\n{"step": 2, "loss": 2.0}\n')
    failed(cli("plot", run, "--out", tmp_path / "p.txt"), "'.txt' is not an image format", ".png", ".svg", code=2)
    failed(cli("plot", run, "--out", tmp_path / "p"), "no extension", ".pdf", code=2)
    (tmp_path / "f").write_text("")
    failed(cli("plot", run, "--out", tmp_path / "f" / "p.png"), f"{tmp_path / 'f'} is a file, not a folder")
    out = cli("plot", run, "--out", tmp_path / "p.SVG")
    assert out.returncode == 0 and (tmp_path / "p.SVG").read_text().lstrip().startswith("<?xml"), out.stderr


# ================================================================== 7-8. progress and notes

@pytest.mark.parametrize("record, where", [
    ({"version": 1, "quizzes": {"normalization": {"best": "x", "attempts": 7}}}, "quizzes.normalization"),
    ({"version": 1, "quizzes": {"normalization": {"best": 0.5, "missed": [1], "attempts": []}}},
     "quizzes.normalization"),
    ({"version": 1, "experiments": {"normalization/exp1": {"passed": "yes"}}}, "normalization/exp1.passed"),
    ({"version": 1, "training": {"pretrain": [{"date": "2026-11-29", "val_ppl": "low"}]}}, "pretrain[0].val_ppl"),
    ({"version": 1, "paths": {"quick": {"next_step": "2"}}}, "paths.quick.next_step"),
])
def test_progress_with_wrong_value_types_is_moved_aside(tmp_path, record, where):
    (tmp_path / "progress.json").write_text(json.dumps(record))
    out = cli("progress", env={"MINIMIND_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    message = " ".join(out.stderr.split())
    assert "Traceback" not in message and message.count("Warning:") == 1 and where in message, out.stderr
    (backup,) = tmp_path.glob("progress.json.bak-*")
    assert json.loads(backup.read_text()) == record  # kept for the learner


def test_notes_log_run_at_once_keeps_every_line(tmp_path):
    assert cli("notes", "init", tmp_path).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "minimind_notes", "notes", "log", f"line {i}", "--dir",
                               str(tmp_path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    log = (tmp_path / "docs" / "learning_log.md").read_text()
    assert sorted(line for line in log.splitlines() if line.startswith("- line ")) == [f"- line {i}" for i in range(8)]


# ================================================================== 9. --skip-bad only where it exists

def test_skip_bad_is_offered_only_where_it_applies(tmp_path, ckpt):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(jsonl(ROWS[:10]) + "{broken\n" + jsonl(ROWS[10:]), encoding="utf-8")
    failed(cli("eval", "ppl", "--weights", ckpt, "--data", bad, "--max-seq-len", "16"), f"{bad}:11", "--skip-bad")
    out = cli("eval", "ppl", "--weights", ckpt, "--data", bad, "--max-seq-len", "16", "--skip-bad")
    assert out.returncode == 0 and "perplexity" in out.stdout and "skipped 1 bad line" in out.stdout, out.stderr
    good = tmp_path / "good.jsonl"
    good.write_text(jsonl(ROWS), encoding="utf-8")
    message = failed(cli("train", "pretrain", "--data-path", good, "--val-path", bad, "--max-steps", "1", "--save-dir",
                         tmp_path / "out", "--skip-bad"), f"{bad}:11: not a JSON object")
    assert "--skip-bad" not in message  # it does not apply to the held-out file


# ================================================================== 10-12. downloads

BODY = (json.dumps({"text": "a row of the data set " * 3}) + "\n").encode() * 500  # ~36 KB of JSONL
BODY_SHA = hashlib.sha256(BODY).hexdigest()


class Server(BaseHTTPRequestHandler):
    """/half (announces BODY, sends half, closes), /nothing (announces it, sends nothing), /slow (half, a
    pause, the rest), /files (BODY with its size), /hf (BODY with Hugging Face's X-Linked-Size and X-Linked-Etag)."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        route = self.path.strip("/").split("/")[0]
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        if route == "hf":
            self.send_header("X-Linked-Size", str(len(BODY)))
            self.send_header("X-Linked-Etag", f'"{BODY_SHA}"')
        self.end_headers()
        if route == "slow":  # half, a pause, the rest
            self.wfile.write(BODY[: len(BODY) // 2])
            self.wfile.flush()
            time.sleep(2)
        self.wfile.write({"half": BODY[: len(BODY) // 2], "nothing": b"", "slow": BODY[len(BODY) // 2:]}
                         .get(route, BODY))
        self.close_connection = True


@pytest.fixture
def server():
    with loopback_server(Server) as url:
        yield url


def download(server: str, route: str, folder: Path, *flags: str) -> subprocess.CompletedProcess:
    return cli("data", "download", "--file", "pretrain_t2t_mini.jsonl", "--dir", folder, "--url",
               f"{server}/{route}/{{file}}", *flags)


def test_a_cut_download_keeps_and_counts_what_arrived(server, tmp_path):
    part = tmp_path / "pretrain_t2t_mini.jsonl.part"
    failed(download(server, "nothing", tmp_path), "broke off after 0 B", "nothing arrived, so no file was written")
    assert not part.exists()
    failed(download(server, "half", tmp_path), f"broke off after {len(BODY) // 2 / 1024:.1f} KB",
           f"kept as {part}", "resume")
    assert part.read_bytes() == BODY[: len(BODY) // 2]
    out = download(server, "files", tmp_path)  # the server answers 200 to the range: starts again from 0
    assert out.returncode == 0 and (tmp_path / "pretrain_t2t_mini.jsonl").read_bytes() == BODY, out.stderr


def test_two_downloads_of_one_file_at_once_do_not_mix_their_bytes(server, tmp_path):
    first = subprocess.Popen([sys.executable, "-m", "minimind_notes", "data", "download", "--file",
                              "pretrain_t2t_mini.jsonl", "--dir", str(tmp_path), "--url", f"{server}/slow/{{file}}"],
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    part = tmp_path / "pretrain_t2t_mini.jsonl.part"
    deadline = time.monotonic() + 60
    while not part.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    failed(download(server, "files", tmp_path), "pretrain_t2t_mini.jsonl is being downloaded", "another process",
           "wait for it")
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert (tmp_path / "pretrain_t2t_mini.jsonl").read_bytes() == BODY


@pytest.mark.parametrize("url", ["notaurl", "file:///etc/passwd", "http://", "ftp://example.org/{file}"])
def test_download_url_that_is_not_http_is_a_usage_error(tmp_path, url):
    message = failed(cli("data", "download", "dpo", "--dir", tmp_path, "--url", url),
                     f"--url '{url}'", "not an http:// or https:// URL", "--url http://127.0.0.1:8000", code=2)
    assert "--source" not in message
    assert not list(tmp_path.iterdir())


def test_verify_compares_with_what_the_download_recorded(server, tmp_path):
    saved = tmp_path / "pretrain_t2t_mini.jsonl"
    assert download(server, "files", tmp_path).returncode == 0  # only the size is published
    record = json.loads((tmp_path / "pretrain_t2t_mini.jsonl.minimind.json").read_text())
    assert record["bytes"] == len(BODY) and record["sha256"] == BODY_SHA and not record["sha256_checked_against"]
    out = cli("data", "verify", "pretrain_t2t_mini", "--dir", tmp_path)
    assert out.returncode == 0 and "unverified" in out.stdout and "as downloaded" in out.stdout, out.stdout
    saved.write_bytes(BODY[:-2] + b"?\n")  # changed since, same size
    out = cli("data", "verify", "pretrain_t2t_mini", "--dir", tmp_path)
    assert out.returncode == 1 and "wrong hash" in out.stdout and "changed since" in " ".join(out.stdout.split())
    saved.write_bytes(BODY[:500])
    out = cli("data", "verify", "pretrain_t2t_mini", "--dir", tmp_path)
    assert out.returncode == 1 and "wrong size" in out.stdout and f"{len(BODY):,} arrived" in out.stdout

    assert download(server, "hf", tmp_path, "--force").returncode == 0  # the sha256 is published
    out = cli("data", "verify", "pretrain_t2t_mini", "--dir", tmp_path)
    assert out.returncode == 0 and "ok" in out.stdout and "X-Linked-Etag" in out.stdout, out.stdout


def test_verify_without_a_record_tells_a_cut_jsonl(tmp_path):
    saved = tmp_path / "pretrain_t2t_mini.jsonl"
    saved.write_bytes(BODY[:500])  # cut mid-line, nothing published, no record
    out = cli("data", "verify", "pretrain_t2t_mini", "--dir", tmp_path)
    assert out.returncode == 1 and "looks truncated" in out.stdout and "not whole JSON" in out.stdout, out.stdout
    saved.write_bytes(BODY)
    out = cli("data", "verify", "pretrain_t2t_mini", "--dir", tmp_path)
    assert out.returncode == 0 and "unverified" in out.stdout, out.stdout
