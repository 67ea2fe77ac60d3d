"""The resume state of a training run: everything `--resume` needs to continue exactly.

A state is written only at a step boundary (after the optimizer step, before the next batch is
drawn), as `<run_dir>/checkpoints/step_NNNNNNN.pt`. It holds tensors, numbers, strings, lists and
dicts only, and is read with `torch.load(weights_only=True)`, so a crafted file cannot run code.
Each state is read back once after writing (verified); the two newest verified states are kept, so
a save killed half-way or a file damaged later still leaves one to resume from.

The state also records what identifies the run (stage, model shape, batch, sequence length, data
and tokenizer): `--resume` with different settings is refused, naming the fields that differ.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minimind_notes.errors import MiniMindError, UsageError
from minimind_notes.fileio import remove_stale_temps
from minimind_notes.model.checkpoint import torch_load

CHECKPOINTS = "checkpoints"
KEEP = 2
SAMPLE = 1 << 20  # bytes hashed at each end of a data file: enough to tell files apart, fast at any size


# ----------------------------------------------------------------------------- RNG as tensors

def rng_state() -> dict[str, Any]:
    """Python's, NumPy's and torch's RNG states as tensors and numbers (loadable with weights_only)."""
    version, words, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": {"version": version, "words": torch.tensor(words, dtype=torch.int64), "gauss": gauss},
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["words"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


# ----------------------------------------------------------------------------- run identity

def file_identity(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """Size and a hash of the first and last MiB: changes when the file's content does, cheap at any size."""
    if not path or not Path(path).is_file():
        return None
    size = Path(path).stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        digest.update(f.read(SAMPLE))
        if size > SAMPLE:
            f.seek(max(SAMPLE, size - SAMPLE))
            digest.update(f.read(SAMPLE))
    return {"bytes": size, "sha256_ends": digest.hexdigest()[:16]}


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """'field: saved X, now Y' for every field of the run identity that changed."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "data" and key != "val":
            out += [f"{key}.{d}" for d in differences(a, b)]
        elif a != b:
            out.append(f"{key}: saved {_short(a)}, now {_short(b)}")
    return out


def _short(value: Any) -> str:
    if isinstance(value, dict) and "bytes" in value:
        return f"a file of {value['bytes']:,} bytes"
    return "none" if value is None else repr(value)


# ----------------------------------------------------------------------------- files

def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CHECKPOINTS


def saved_states(run_dir: str | os.PathLike) -> list[Path]:
    """The run's resume states, newest first."""
    folder = checkpoint_dir(run_dir)
    return sorted(folder.glob("step_*.pt"), reverse=True) if folder.is_dir() else []


def state_path(run_dir: str | os.PathLike, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step_{step:07d}.pt"


def write_state(path: Path, state: dict[str, Any]) -> None:
    """torch.save `state` to `path` (a temporary file) and read it back: only a state that reads is kept."""
    try:
        torch.save(state, path)
    except RuntimeError as e:  # torch reports a failed write (full disk, file size limit) this way
        raise OSError(errno.EIO, "the write failed part-way (is the disk full?)") from e
    check = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if check.get("step") != state["step"]:
        raise MiniMindError(f"the resume state written to {path} did not read back", hint="check the disk")


def prune_states(run_dir: str | os.PathLike) -> None:
    """Keep the KEEP newest states; delete older ones and the leftovers of killed saves."""
    remove_stale_temps(checkpoint_dir(run_dir))
    for old in saved_states(run_dir)[KEEP:]:
        old.unlink(missing_ok=True)


def load_state(path: Path, device: torch.device) -> dict[str, Any]:
    """One resume state; anything but plain tensors and data is refused without running any of it."""
    state = torch_load(path, "resume state", device)
    if not isinstance(state, dict) or "step" not in state:
        raise ValueError("not a resume state")
    return state


def load_latest(run_dir: str | os.PathLike, device: torch.device, echo: Any = print) -> tuple[dict[str, Any], Path]:
    """The newest state that reads; a damaged newer one is reported and skipped."""
    states = saved_states(run_dir)
    if not states:
        raise UsageError(f"--resume: no saved state in {checkpoint_dir(run_dir)}",
                         hint="start the run without --resume (with the same --save_dir, stage and --run-name)")
    for path in states:
        try:
            return load_state(path, device), path
        except MiniMindError:
            raise
        except Exception as e:  # truncated or damaged: the older verified state is still there
            echo(f"[yellow]Skipping damaged resume state {path} ({type(e).__name__}); trying an older one.[/]")
    raise MiniMindError(f"every resume state in {checkpoint_dir(run_dir)} is damaged",
                        hint="start the run again with --overwrite")
