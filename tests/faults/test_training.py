"""Fault tests for `minimind train`, with real processes and real signals: a learner's run is never
lost, overwritten or silently corrupted, an interruption anywhere resumes exactly, and nothing a
resume loads can run code."""

from __future__ import annotations

import json
import os
import pickle
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

TINY = ["--hidden-size", "64", "--num-hidden-layers", "1", "--max-seq-len", "32", "--batch-size", "2",
        "--accumulation-steps", "2", "--log-every", "1", "--eval-every", "0", "--precision", "fp32",
        "--time-budget", "0"]


def env() -> dict[str, str]:
    """The test's environment (its own MINIMIND_HOME and token cache), one thread for bit-exact curves."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# Runs the CLI with Objective.next_batch wrapped so that its Nth call (one per micro-batch) sends a real
# signal to this very process: a deterministic place for an interruption, inside or between steps.
SIGNAL_AT_BATCH = """
import os, signal, sys
from minimind_notes.train import objectives
sig, at = getattr(signal, sys.argv[1]), int(sys.argv[2])
real, calls = objectives.Objective.next_batch, [0]
def next_batch(self):
    calls[0] += 1
    if calls[0] == at:
        os.kill(os.getpid(), sig)
    return real(self)
objectives.Objective.next_batch = next_batch
sys.argv = ["minimind", *sys.argv[3:]]
from minimind_notes.cli.app import main
main()
"""


def minimind(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minimind_notes", *args], cwd=cwd, env=env(), text=True,
                          capture_output=True, timeout=300, **kw)


def train_cmd(out: Path, *extra: str) -> list[str]:
    return ["train", "pretrain", *TINY, "--save-dir", str(out), *extra]


def losses(out: Path) -> list[tuple[int, float]]:
    rows = map(json.loads, (out / "runs" / "pretrain_64" / "metrics.jsonl").read_text().splitlines())
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


def assert_clean_failure(result: subprocess.CompletedProcess, code: int) -> None:
    assert result.returncode == code, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, list[tuple[int, float]]]:
    """An uninterrupted run of 16 steps: the curve every interrupted-and-resumed run must equal."""
    root = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:  # set up before the per-test home: give it its own
        mp.setenv("MINIMIND_HOME", str(root / "home"))
        mp.setenv("MINIMIND_CACHE", str(root / "cache"))
        mp.setenv("MINIMIND_PRECISION", "fp32")
        result = minimind(*train_cmd(root / "out", "--max-steps", "16", "--save-every", "5"), cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "out", losses(root / "out")


@pytest.fixture
def earlier_run(tmp_path, reference) -> Path:
    """A copy of the finished reference run in this test's folder: the learner's earlier work."""
    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "batch_call", "code"), [
    ("SIGTERM", 12, 143),  # second micro-batch of step 6: inside gradient accumulation
    ("SIGINT", 22, 130),  # step 11, after the checkpoint of step 10
])
def test_a_signal_anywhere_saves_that_step_and_resume_gives_the_same_curve(tmp_path, reference, sig,
                                                                          batch_call, code):
    out = tmp_path / "out"
    args = train_cmd(out, "--max-steps", "16", "--save-every", "5")
    stopped = subprocess.run([sys.executable, "-c", SIGNAL_AT_BATCH, sig, str(batch_call), *args], cwd=tmp_path,
                             env=env(), text=True, capture_output=True, timeout=300)
    assert_clean_failure(stopped, code)
    step = (batch_call + 1) // 2  # the step in flight completes, then it saves
    assert f"stopped by {sig} at step {step}" in stopped.stderr and "--resume" in stopped.stderr
    assert (out / "runs" / "pretrain_64" / "checkpoints" / f"step_{step:07d}.pt").is_file()
    resumed = minimind(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert losses(out) == reference[1]  # the whole curve, bit for bit (fp32, one thread)


@pytest.mark.slow
def test_sigterm_at_a_random_moment_and_kill_9_during_saves_lose_nothing(tmp_path, reference):
    """SIGTERM at a random time, then kill -9 at random times while it saves every step: each time the run
    resumes from its newest verified state, and the final curve equals the uninterrupted one."""
    out = tmp_path / "out"
    args = [sys.executable, "-m", "minimind_notes", *train_cmd(out, "--max-steps", "16", "--save-every", "1")]
    rows = out / "runs" / "pretrain_64" / "metrics.jsonl"
    rng = random.Random(0)
    for round_, sig in enumerate([signal.SIGTERM, signal.SIGKILL, signal.SIGKILL]):
        cmd = args + (["--resume"] if round_ else [])
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        target = 3 * (round_ + 1) + rng.randint(0, 1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if rows.is_file() and len(rows.read_text().splitlines()) >= target:
                time.sleep(rng.uniform(0, 0.05))  # somewhere in a step, or in a save
                proc.send_signal(sig)
                break
            time.sleep(0.005)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err
        if sig == signal.SIGTERM and proc.returncode != 0:
            assert proc.returncode == 143 and "stopped by SIGTERM" in err
    final = minimind(*train_cmd(out, "--max-steps", "16", "--save-every", "1"), "--resume", cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    assert losses(out) == reference[1]
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers  # the temp files of killed saves are cleaned
    assert len(list((out / "runs" / "pretrain_64" / "checkpoints").glob("step_*.pt"))) == 2  # the 2 newest


def test_resume_refuses_a_different_run_and_names_what_changed(tmp_path, earlier_run):
    data = tmp_path / "other.jsonl"
    data.write_text("".join(json.dumps({"text": f"Story number {i} is short."}) + "\n" for i in range(300)))
    out = earlier_run
    result = minimind("train", "pretrain", *TINY[:6], "--batch-size", "4", *TINY[8:], "--save-dir", str(out),
                      "--max-steps", "6", "--data-path", str(data), "--resume", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert "belongs to a different run" in result.stderr
    assert "batch_size: saved 2, now 4" in result.stderr and "data: saved a file of" in result.stderr


def test_a_resume_state_with_a_pickle_payload_is_refused_and_nothing_runs(tmp_path, earlier_run):
    out = earlier_run
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = out / "runs" / "pretrain_64" / "checkpoints" / "step_0000099.pt"
    evil.write_bytes(pickle.dumps({"step": 99, "x": Payload()}))
    result = minimind(*train_cmd(out, "--max-steps", "120"), "--resume", cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert "refused to load" in result.stderr and "nothing in it was run" in result.stderr
    assert "weights_only" not in result.stderr + result.stdout  # never torch's advice to turn the check off
    assert not marker.exists()


def test_every_torch_load_in_the_package_is_weights_only():
    package = Path(__file__).parents[2] / "minimind_notes"
    for file in package.rglob("*.py"):
        text = file.read_text(encoding="utf-8")
        for i, line in enumerate(text.splitlines(), 1):
            if "torch.load(" in line:
                call = text[text.index(line):][:400]
                assert "weights_only=True" in call.split(")\n")[0], f"{file}:{i}"


def test_a_new_run_never_replaces_an_earlier_one_unless_asked(tmp_path, earlier_run):
    out = earlier_run
    weights, metrics = out / "pretrain_64.safetensors", out / "runs" / "pretrain_64" / "metrics.jsonl"
    before = weights.read_bytes(), metrics.read_bytes()
    again = minimind(*train_cmd(out, "--max-steps", "3"), cwd=tmp_path)
    assert_clean_failure(again, 3)
    assert "--resume" in again.stderr and "--overwrite" in again.stderr and "--run-name" in again.stderr
    assert (weights.read_bytes(), metrics.read_bytes()) == before
    other = minimind(*train_cmd(out, "--max-steps", "3", "--run-name", "second"), cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert (out / "second_64.safetensors").is_file() and (weights.read_bytes(), metrics.read_bytes()) == before
    failed = minimind(*train_cmd(out, "--max-steps", "3", "--overwrite", "--learning-rate", "1e9"), cwd=tmp_path)
    assert_clean_failure(failed, 1)  # diverges before its first save: the earlier run is put back as it was
    assert (weights.read_bytes(), metrics.read_bytes()) == before and "put back" in failed.stdout
    replaced = minimind(*train_cmd(out, "--max-steps", "3", "--overwrite"), cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert [s for s, _ in losses(out)] == [1, 2, 3]  # the new run's rows only
    assert not list((out / "runs").glob("*.replaced"))  # the earlier run went once the new one had saved


@pytest.mark.parametrize("name", ["../../escape", "", "a/b", ".."])
def test_a_run_name_is_a_plain_name_inside_save_dir(tmp_path, name):
    result = minimind(*train_cmd(tmp_path / "out", "--max-steps", "1", "--run-name", name), cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert "is not a plain name" in result.stderr and not (tmp_path / "out").exists()
    assert not list(tmp_path.parent.glob("escape_*"))


def test_unreadable_weights_are_named_without_torch_advice(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"garbage\n")
    (tmp_path / "folder").mkdir()
    garbage = minimind("chat", "--weights", str(tmp_path / "garbage.pth"), "--prompt", "hi", cwd=tmp_path)
    assert_clean_failure(garbage, 1)
    assert "not a PyTorch checkpoint" in garbage.stderr and "weights_only" not in garbage.stderr
    folder = minimind("train", "sft", *TINY, "--save-dir", str(tmp_path / "o"), "--max-steps", "1",
                      "--from-weight", str(tmp_path / "folder"), cwd=tmp_path)
    assert_clean_failure(folder, 1)
    assert "is a folder" in folder.stderr and "minimind train" not in folder.stderr


@pytest.mark.parametrize("args", [
    ["--max-steps", "-3"], ["--max-steps", "0"], ["--batch-size", "0"], ["--max-seq-len", "0"],
    ["--accumulation-steps", "0"], ["--lora-rank", "0"], ["--learning-rate", "-1"], ["--epochs", "0"],
    ["--num-generations", "1"], ["--nproc", "0"], ["--time-budget", "-5"], ["--precision", "fp16"],
])
def test_nonsense_numbers_are_refused_before_anything_runs(tmp_path, args):
    result = minimind("train", "pretrain", "--save-dir", str(tmp_path / "out"), *args, cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert args[0] in result.stderr and ("must be" in result.stderr or "use auto, fp32 or bf16" in result.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_diverging_resume_never_overwrites_finite_weights(tmp_path, earlier_run):
    from safetensors.torch import load_file

    out = earlier_run
    weights = out / "pretrain_64.safetensors"
    result = minimind(*train_cmd(out, "--max-steps", "200", "--save-every", "1", "--learning-rate", "1e3",
                                 "--grad-clip", "0"), "--resume", cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert "training stopped" in result.stderr and "--learning_rate 1000 is" in result.stderr
    assert all(torch.isfinite(t).all() for t in load_file(str(weights)).values())
    again = minimind(*train_cmd(out, "--max-steps", "17"), "--resume", cwd=tmp_path)  # from its last good state
    assert again.returncode == 0 and "Resumed" in again.stdout, again.stderr


def test_nan_in_the_starting_weights_is_named(tmp_path, earlier_run):
    from safetensors.torch import load_file, save_file

    out = earlier_run
    state = load_file(str(out / "pretrain_64.safetensors"))
    state["model.norm.weight"][0] = float("nan")
    save_file(state, str(tmp_path / "broken.safetensors"))
    result = minimind("train", "sft", *TINY, "--save-dir", str(out), "--max-steps", "2",
                      "--from-weight", str(tmp_path / "broken.safetensors"), cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert "contain NaN or inf in 1 tensors (model.norm.weight" in result.stderr


@pytest.mark.slow
def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint(tmp_path, earlier_run):
    out = earlier_run
    states = out / "runs" / "pretrain_64" / "checkpoints"
    before = {p.name: p.read_bytes() for p in [out / "pretrain_64.safetensors", *states.iterdir()]}
    limit = 3 << 20  # the weights (1.7 MB) fit, the resume state with AdamW's moments (5 MB) does not

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead

    result = subprocess.run([sys.executable, "-m", "minimind_notes", *train_cmd(out, "--max-steps", "18"),
                             "--resume"], cwd=tmp_path, env=env(), text=True, capture_output=True, timeout=300,
                            preexec_fn=small_disk)
    assert_clean_failure(result, 1)
    assert "cannot save the checkpoint of step 18" in result.stderr and "step 16" in result.stderr
    after = {p.name: p.read_bytes() for p in [out / "pretrain_64.safetensors", *states.iterdir()]}
    assert after == before


@pytest.mark.slow
def test_a_pickle_payload_in_any_file_the_project_loads_is_refused_and_nothing_runs(tmp_path, earlier_run):
    """Weights (.pth) through chat, eval, export and --from-weight; a LoRA adapter; the token cache."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"model.norm.weight": Payload()}))
    good = str(earlier_run / "pretrain_64.safetensors")
    for args in (["chat", "--weights", str(evil), "--prompt", "hi"], ["eval", "ppl", "--weights", str(evil)],
                 ["export", str(evil), str(tmp_path / "hf")],
                 ["train", "sft", *TINY, "--save-dir", str(tmp_path / "o"), "--max-steps", "1",
                  "--from-weight", str(evil)],
                 ["chat", "--weights", good, "--lora", str(evil), "--prompt", "hi"]):
        result = minimind(*args, cwd=tmp_path)
        assert_clean_failure(result, 1)
        assert f"refused to load checkpoint {evil}" in result.stderr, (args, result.stderr)
        assert "weights_only" not in result.stderr + result.stdout
    # The token cache is raw uint16 ids, never unpickled: a payload there is caught by its digest and rebuilt.
    assert minimind(*train_cmd(tmp_path / "first", "--max-steps", "1"), cwd=tmp_path).returncode == 0
    for bin_file in Path(os.environ["MINIMIND_CACHE"]).glob("pretrain.*.bin"):
        bin_file.write_bytes(pickle.dumps(Payload()).ljust(bin_file.stat().st_size, b"\0"))
    rebuilt = minimind(*train_cmd(tmp_path / "fresh", "--max-steps", "1"), cwd=tmp_path)
    assert rebuilt.returncode == 0 and "rebuilding it" in rebuilt.stderr, rebuilt.stderr
    assert not marker.exists()
