"""C-Eval, CMMLU and MMLU read as published (small files written here in their exact CSV layouts), prompted
as the benchmarks define it, scored by the next-token logits of A-D; the catalogue lists them and their
archives unpack safely."""

import io
import json
import tarfile
import zipfile
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from minimind_notes.cli.app import app
from minimind_notes.data.download import entries, unpack
from minimind_notes.data.jsonl import DataError
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.errors import MiniMindError
from minimind_notes.evaluate import (
    BENCHMARKS,
    LETTERS,
    MCQuestion,
    benchmark_prompt,
    read_benchmark_csv,
    run_benchmark,
    subject_names,
)
from minimind_notes.model import MiniMindForCausalLM, save_checkpoint
from tests.conftest import tiny_config

runner = CliRunner()
QUESTIONS = [("1 + 1 = ?", "1", "2", "3", "4", "B"), ("2 + 2 = ?", "4", "5", "6", "7", "A"),
             ("Capital of France?", "Rome", "Oslo", "Paris", "Bern", "C")]


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def csv_rows(rows):
    return "".join(",".join(f'"{c}"' if "," in c else c for c in row) + "\n" for row in rows)


def make_benchmarks(root):
    """The three layouts: C-Eval val/dev with id and answer (dev adds explanation), CMMLU test/dev with an
    unnamed index column and capitalised names, MMLU data/test and data/dev without a header."""
    ceval, cmmlu, mmlu = root / "ceval", root / "cmmlu", root / "mmlu"
    write(ceval / "val" / "basic_math_val.csv",
          "id,question,A,B,C,D,answer\n" + csv_rows([(str(i), *q) for i, q in enumerate(QUESTIONS)]))
    write(ceval / "dev" / "basic_math_dev.csv", "id,question,A,B,C,D,answer,explanation\n"
          + csv_rows([(str(i), *q, "because, simply") for i, q in enumerate(QUESTIONS * 2)]))
    write(ceval / "test" / "basic_math_test.csv", "id,question,A,B,C,D\n0,3 + 3 = ?,5,6,7,8\n")
    write(ceval / "subject_mapping.json", json.dumps({"basic_math": ["Basic Mathematics", "基础数学", "STEM"]}))
    write(cmmlu / "test" / "arithmetic.csv", ",Question,A,B,C,D,Answer\n"
          + csv_rows([(str(i), *q) for i, q in enumerate(QUESTIONS)]))
    write(cmmlu / "dev" / "arithmetic.csv", ",Question,A,B,C,D,Answer\n"
          + csv_rows([(str(i), *q) for i, q in enumerate(QUESTIONS)]))
    write(mmlu / "data" / "test" / "elementary_mathematics_test.csv", csv_rows(QUESTIONS))
    write(mmlu / "data" / "dev" / "elementary_mathematics_dev.csv", csv_rows(QUESTIONS * 2))
    return root


class Prefers(nn.Module):
    """A stand-in model whose next token after any prompt is `letter` (and B second)."""

    def __init__(self, tok, letter, window=4096):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(max_position_embeddings=window)
        self.tok, self.letter, self.seen = tok, letter, []

    def forward(self, ids):
        self.seen.append(ids.shape[1])
        logits = torch.zeros(1, ids.shape[1], self.tok.vocab_size)
        for bonus, letter in ((2.0, self.letter), (1.0, "B")):
            for text in (letter, " " + letter):
                logits[0, -1, self.tok.encode_plain(text)[-1]] += bonus
        return SimpleNamespace(logits=logits)


@pytest.fixture(scope="module")
def tok():
    return MiniMindTokenizer.from_dir(None)


def test_published_layouts_are_read(tmp_path):
    root = make_benchmarks(tmp_path)
    for name, path in (("ceval", root / "ceval/val/basic_math_val.csv"), ("cmmlu", root / "cmmlu/test/arithmetic.csv"),
                       ("mmlu", root / "mmlu/data/test/elementary_mathematics_test.csv")):
        qs = read_benchmark_csv(path, BENCHMARKS[name], "s")
        assert [(q.question, q.options["C"], q.answer) for q in qs] == [(q[0], q[3], q[5]) for q in QUESTIONS]
    assert subject_names(root / "ceval", BENCHMARKS["ceval"]) == {"basic_math": "基础数学"}  # C-Eval's own names
    write(tmp_path / "bad" / "test" / "x_test.csv", "What?,1,2,3,4,E\n")
    with pytest.raises(DataError, match=r"x_test.csv:1: answer 'E' is not one of A, B, C, D"):
        read_benchmark_csv(tmp_path / "bad/test/x_test.csv", BENCHMARKS["mmlu"], "x")


def test_prompts_are_the_benchmarks_own():
    q, shot = (MCQuestion(x[0], dict(zip(LETTERS, x[1:5], strict=True)), x[5]) for x in QUESTIONS[:2])
    assert benchmark_prompt(BENCHMARKS["mmlu"], "elementary mathematics", q, [shot]) == (
        "The following are multiple choice questions (with answers) about elementary mathematics.\n\n"
        "2 + 2 = ?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer: A\n\n1 + 1 = ?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:")
    assert benchmark_prompt(BENCHMARKS["ceval"], "基础数学", q, []) == (
        "以下是中国关于基础数学考试的单项选择题，请选出其中的正确答案。\n\n1 + 1 = ?\nA. 1\nB. 2\nC. 3\nD. 4\n答案：")
    assert benchmark_prompt(BENCHMARKS["cmmlu"], "arithmetic", q, [shot]).endswith(
        "题目：2 + 2 = ?\nA. 4\nB. 5\nC. 6\nD. 7\n答案是：A\n\n题目：1 + 1 = ?\nA. 1\nB. 2\nC. 3\nD. 4\n答案是：")


@pytest.mark.parametrize("name", ["ceval", "cmmlu", "mmlu"])
def test_scoring_compares_the_letters_next_token_logits(tmp_path, tok, name):
    folder = make_benchmarks(tmp_path) / name
    always_b = run_benchmark(Prefers(tok, "B"), tok, name, folder, shots=0)
    assert always_b.accuracy == pytest.approx(1 / 3) and always_b.chance == 0.25  # one answer of three is B
    assert sum(n for _, n in always_b.by_subject.values()) == 3
    always_c = run_benchmark(Prefers(tok, "C"), tok, name, folder, shots=5)
    assert always_c.accuracy == pytest.approx(1 / 3) and always_c.shots == 5


def test_five_shots_make_longer_prompts_and_shrink_to_fit_the_window(tmp_path, tok):
    folder = make_benchmarks(tmp_path) / "mmlu"
    zero, five = Prefers(tok, "A"), Prefers(tok, "A")
    run_benchmark(zero, tok, "mmlu", folder, shots=0)
    run_benchmark(five, tok, "mmlu", folder, shots=5)
    assert min(five.seen) > max(zero.seen)
    small = Prefers(tok, "A", window=max(zero.seen) + 5)
    result = run_benchmark(small, tok, "mmlu", folder, shots=5)
    assert result.fewer_shots == 3 and result.truncated == 0 and max(small.seen) <= max(zero.seen) + 5


def test_missing_files_say_how_to_get_them(tmp_path, tok):
    with pytest.raises(DataError, match="minimind data download ceval"):
        run_benchmark(Prefers(tok, "A"), tok, "ceval", tmp_path, shots=0)


def test_eval_mc_benchmark_cli_json(tmp_path, tok):
    folder = make_benchmarks(tmp_path) / "cmmlu"
    torch.manual_seed(0)
    weights = save_checkpoint(MiniMindForCausalLM(tiny_config(vocab_size=tok.vocab_size)),
                              tmp_path / "m.safetensors", tok.identity())
    result = runner.invoke(app, ["eval", "mc", "--weights", str(weights), "--benchmark", "cmmlu", "--data",
                                 str(folder), "--shots", "5", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{"):])
    assert out["benchmark"] == "cmmlu" and out["shots"] == 5 and out["chance"] == 0.25 and out["questions"] == 3
    assert out["subjects"]["arithmetic"]["total"] == 3 and 0 <= out["accuracy"] <= 1
    bad = runner.invoke(app, ["eval", "mc", "--weights", str(weights), "--benchmark", "gsm8k"])
    assert bad.exit_code == 2 and "use one of ceval, cmmlu, mmlu" in bad.output


def test_catalogue_lists_format_stage_and_trainability():
    by_name = {e.name: e for e in entries()}
    for name in ("pretrain_t2t_mini", "pretrain_t2t", "sft_t2t_mini", "sft_t2t", "dpo", "rlaif", "agent_rl",
                 "agent_rl_math", "lora_identity", "lora_medical", "lora_exam", "sft_mini_512", "minimind2-weights",
                 "minimind2-transformers", "minimind-3-weights", "minimind-3-transformers", "ceval", "cmmlu", "mmlu"):
        entry = by_name[name]
        assert entry.format and entry.stage and (entry.trainable is True or entry.trainable["en"]), name
    assert "full_sft_768_moe.pth" in by_name["minimind-3-weights"].files
    listed = json.loads(runner.invoke(app, ["data", "list", "--json"]).output)
    rlaif = next(r for r in listed if r["name"] == "rlaif")
    assert rlaif["trainable"] is False and "reward model" in rlaif["why_not"]
    shown = runner.invoke(app, ["data", "list"], env={"COLUMNS": "250"})
    assert "trainable" in shown.output and "agent_rl_math" in shown.output


def test_archives_unpack_and_refuse_paths_outside(tmp_path):
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("val/a_val.csv", "id,question,A,B,C,D,answer\n")
    assert unpack(archive, tmp_path / "ceval") == 1 and (tmp_path / "ceval/val/a_val.csv").is_file()
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../escape.csv", "x")
    with pytest.raises(MiniMindError, match="would land outside"):
        unpack(tmp_path / "evil.zip", tmp_path / "evil")
    assert not (tmp_path / "escape.csv").exists() and not (tmp_path / "evil").exists()
    data = b"q,1,2,3,4,A\n"
    with tarfile.open(tmp_path / "m.tar", "w") as t:
        info = tarfile.TarInfo("data/test/x_test.csv")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    assert unpack(tmp_path / "m.tar", tmp_path / "mmlu") == 1
    assert (tmp_path / "mmlu/data/test/x_test.csv").read_bytes() == data


def test_download_unpacks_the_archive_and_eval_reads_it(tmp_path, tok):
    """`data download ceval` (from a local server standing in for the hub) unpacks into dataset/ceval, which
    `eval mc --benchmark ceval` reads with its default --data."""
    import functools
    import os
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    source = make_benchmarks(tmp_path / "src") / "ceval"
    served = tmp_path / "served"
    served.mkdir()
    with zipfile.ZipFile(served / "ceval-exam.zip", "w") as z:
        for path in source.rglob("*.csv"):
            z.write(path, path.relative_to(source).as_posix())
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    work = tmp_path / "work"
    work.mkdir()
    old = os.getcwd()
    os.chdir(work)
    try:
        got = runner.invoke(app, ["data", "download", "ceval", "--url", f"http://127.0.0.1:{httpd.server_address[1]}"])
        assert got.exit_code == 0, got.output
        assert "Unpacked 3 files into dataset/ceval" in got.output.replace("\n", " ")
        weights = save_checkpoint(MiniMindForCausalLM(tiny_config(vocab_size=tok.vocab_size)),
                                  work / "m.safetensors", tok.identity())
        result = runner.invoke(app, ["eval", "mc", "--weights", str(weights), "--benchmark", "ceval"],
                               env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "basic_math" in result.output and "chance 25%" in result.output
    finally:
        os.chdir(old)
        httpd.shutdown()
