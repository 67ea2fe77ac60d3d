"""Downloads of the real MiniMind data: resumable, verified, never half a file under its final name.

The catalogue (`catalog.yaml` beside this file) names the files; `resolve` turns a name into a URL
for a source (ModelScope or Hugging Face); `download` fetches it:

* bytes go to `NAME.part`; an interrupted download resumes from there with `Range: bytes=N-`
  (a server that ignores Range and answers 200 restarts it from 0);
* the result is checked against the size the server announced, the catalogue's exact size and
  sha256 when it has them, and only then renamed to `NAME`;
* a failed or refused request raises MiniMindError naming the URL and what went wrong, with a hint
  on the other source or a mirror.

Environment: HF_ENDPOINT (default https://huggingface.co; e.g. https://hf-mirror.com) is the Hugging
Face host. MINIMIND_DATA_URL replaces every catalogue URL with a template of one's own: `{file}`
stands for the file name, and a template without `{file}` gets `/FILE` appended
(e.g. MINIMIND_DATA_URL=http://127.0.0.1:8000 for a local server; the tests use this).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from minimind_notes.errors import MiniMindError, UsageError

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
SOURCES = ("modelscope", "huggingface")
URL_ENV = "MINIMIND_DATA_URL"
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
MIRROR_HINT = "HF_ENDPOINT=https://hf-mirror.com"
CHUNK = 1 << 20


# --------------------------------------------------------------------------- catalogue

@dataclass(frozen=True)
class Entry:
    """One line of `minimind data list`: a file, or a bundle of files, and where it lives."""

    name: str
    files: tuple[str, ...]
    group: str
    size: str = "?"
    description: dict[str, str] | str = ""
    repo: str = "dataset"
    urls: dict[str, str] = field(default_factory=dict)
    save_as: str | None = None
    bytes: int | None = None
    sha256: str | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Entry:
        raw = dict(raw)
        files = raw.pop("files", None) or [raw.pop("file")]
        raw.pop("file", None)
        return cls(files=tuple(files), **raw)

    @property
    def is_bundle(self) -> bool:
        return len(self.files) > 1


class Resolved(NamedTuple):
    """Where one file comes from and what it must look like once here."""

    url: str
    filename: str
    size: int | None
    sha256: str | None


@cache
def catalog() -> dict[str, Any]:
    """The parsed catalogue: default_source, sources (URL templates), groups, entries."""
    import yaml

    return yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))


def entries() -> list[Entry]:
    return [Entry.from_dict(e) for e in catalog()["entries"]]


def default_source() -> str:
    return catalog().get("default_source", SOURCES[0])


def find_entry(name_or_file: str) -> Entry | None:
    """The entry called `name_or_file`, or the one holding a file of that name."""
    all_entries = entries()
    for entry in all_entries:
        if entry.name == name_or_file:
            return entry
    for entry in all_entries:
        if name_or_file in entry.files or name_or_file == entry.save_as:
            return entry
    return None


# --------------------------------------------------------------------------- URLs

def hf_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/")


def source_hint(source: str | None = None) -> str:
    """How to get the same file elsewhere, shown under every download error."""
    if source == "modelscope":
        return f"try the other source: --source huggingface (or through a mirror: {MIRROR_HINT})"
    if source == "huggingface":
        return f"try the other source: --source modelscope, or a Hugging Face mirror: {MIRROR_HINT}"
    return ("pick the other source with --source huggingface / --source modelscope, "
            f"or a Hugging Face mirror with {MIRROR_HINT}")


def check_source(source: str) -> str:
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}", hint="use --source " + " or --source ".join(SOURCES))
    return source


def check_file_name(file: str) -> str:
    """A file name inside a repository: relative, no `..`, so it cannot land outside --dir."""
    path = PurePosixPath(file)
    if not file or path.is_absolute() or ".." in path.parts or "\\" in file:
        raise UsageError(f"bad file name {file!r}", hint="give a name inside the repository, e.g. dpo.jsonl")
    return file


def fill_template(template: str, file: str) -> str:
    quoted = quote(file)
    if "{file}" not in template:
        return template.rstrip("/") + "/" + quoted
    return template.replace("{endpoint}", hf_endpoint()).replace("{file}", quoted)


def file_url(file: str, source: str, repo: str = "dataset", url_template: str | None = None) -> str:
    """URL of `file` in the dataset (or model) repository of `source`."""
    template = url_template or os.environ.get(URL_ENV) or catalog()["sources"][check_source(source)][repo]
    return fill_template(template, check_file_name(file))


def entry_url(entry: Entry, file: str, source: str, url_template: str | None = None) -> str:
    check_source(source)
    template = url_template or os.environ.get(URL_ENV)
    if template or not entry.urls:
        return file_url(file, source, entry.repo, template)
    fixed = entry.urls.get(source) or entry.urls.get("any")
    if fixed is None:
        only = " / ".join(f"--source {s}" for s in entry.urls)
        raise MiniMindError(f"{entry.name} is not published on {source}; it is only on "
                            f"{', '.join(entry.urls)}", hint=f"use {only}")
    return fixed.replace("{endpoint}", hf_endpoint())


# --------------------------------------------------------------------------- resolve

def resolve(name_or_file: str, source: str | None = None, url_template: str | None = None) -> Resolved:
    """(url, filename, size, sha256) for a catalogue name, a catalogue file, or any dataset file.

    `size` and `sha256` are exact values to verify (None when the catalogue does not know them).
    A bundle (several files) resolves with `resolve_all`.
    """
    source = source or default_source()
    entry = find_entry(name_or_file)
    if entry is None:
        if "." not in name_or_file:
            raise UsageError(f"unknown data set {name_or_file!r}",
                             hint="`minimind data list` shows the names; --file NAME fetches any file "
                                  "of the dataset repository")
        return resolve_file(name_or_file, source, url_template=url_template)
    if entry.is_bundle and name_or_file not in entry.files:
        raise UsageError(f"{entry.name} is a bundle of {len(entry.files)} files: {', '.join(entry.files)}",
                         hint="resolve_all() gives them all; `minimind data download` fetches them all")
    file = name_or_file if name_or_file in entry.files else entry.files[0]
    return _resolved(entry, file, source, url_template)


def resolve_all(name: str, source: str | None = None, url_template: str | None = None) -> list[Resolved]:
    """Every file of a catalogue entry (one for most, several for a bundle such as the weights)."""
    source = source or default_source()
    entry = find_entry(name)
    if entry is None:
        return [resolve(name, source, url_template)]
    return [_resolved(entry, f, source, url_template) for f in entry.files]


def resolve_file(file: str, source: str | None = None, repo: str = "dataset",
                 url_template: str | None = None) -> Resolved:
    """Any file of the dataset (or model) repository, named as published (`--file NAME`)."""
    source = source or default_source()
    url = file_url(file, source, repo, url_template)
    known = next((e for e in entries() if e.repo == repo and not e.urls and e.files == (file,)), None)
    size, sha = (known.bytes, known.sha256) if known else (None, None)
    return Resolved(url, file, size, sha)


def _resolved(entry: Entry, file: str, source: str, url_template: str | None) -> Resolved:
    url = entry_url(entry, file, source, url_template)
    single = not entry.is_bundle
    filename = (entry.save_as if single and entry.save_as else file)
    return Resolved(url, filename, entry.bytes if single else None, entry.sha256 if single else None)


# --------------------------------------------------------------------------- download

def part_path(dest: Path) -> Path:
    return dest.with_suffix(dest.suffix + ".part")


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def download(url: str, dest: str | os.PathLike, expected_size: int | None = None, sha256: str | None = None,
             chunk: int = CHUNK, timeout: float = 30, hint: str | None = None, progress: bool = True) -> Path:
    """Fetch `url` to `dest`, resuming `dest.part` if an earlier try left one; verify; rename.

    The final name appears only for a file whose size (Content-Length, `expected_size`) and
    sha256 (when given) are right. A transfer cut short keeps its `.part` for the next try;
    a complete transfer with the wrong size or hash is deleted. Note that a `.part` left from an
    older version of the remote file cannot be told apart: give `sha256` where it matters.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    hint = hint or source_hint()
    total = _fetch(url, part, chunk, timeout, hint, progress)
    _verify(url, part, total, expected_size, sha256, hint)
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, chunk: int, timeout: float, hint: str, progress: bool) -> int | None:
    """Write the remote file into `part` (appending when the server honours Range); return its size."""
    for _attempt in range(3):
        have = part.stat().st_size if part.exists() else 0
        with _request(url, have, timeout, hint) as response:
            status = response.status_code
            if status == 416 and have:
                total = _range_total(response)
                if total is None or total == have:
                    return have  # already complete: verified by the caller
            elif status == 206 and have and _range_start(response) == have:
                total = _range_total(response)
                _write(response, part, "ab", have, total, url, chunk, hint, progress)
                return total
            elif status == 200:
                total = _content_length(response)
                _write(response, part, "wb", 0, total, url, chunk, hint, progress)
                return total
            elif status not in (206, 416):
                raise _status_error(url, response, hint)
        part.unlink(missing_ok=True)  # a range answer that does not fit what we have: start again from 0
    raise MiniMindError(f"download failed: {url} kept answering a range request that does not fit", hint)


def _request(url: str, have: int, timeout: float, hint: str):  # noqa: ANN202 - a requests.Response
    import requests

    headers = {"Accept-Encoding": "identity"}  # sizes and ranges count the bytes as stored
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        return requests.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.Timeout:
        raise MiniMindError(f"download failed: {url} did not answer within {timeout:g} s", hint) from None
    except requests.RequestException as e:
        host = urlsplit(url).netloc or url
        raise MiniMindError(f"download failed: cannot connect to {host} for {url} ({type(e).__name__})",
                            hint) from None


def _status_error(url: str, response: Any, hint: str) -> MiniMindError:
    code = response.status_code
    what = {
        401: "the server wants a login",
        403: "the server refused it",
        404: "no such file on this source (wrong name, or not published here)",
        429: "too many requests; wait a minute and retry",
    }.get(code, "a server error; the source may be down" if code >= 500 else "an unexpected answer")
    return MiniMindError(f"download failed: {url} answered {code} {response.reason or ''}".rstrip()
                         + f": {what}. No file was written.", hint)


def _write(response: Any, part: Path, mode: str, have: int, total: int | None, url: str,
           chunk: int, hint: str, progress: bool) -> None:
    import requests
    from tqdm import tqdm

    written = have
    bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
               desc=part.name.removesuffix(".part"), disable=not progress, leave=False)
    try:
        with bar, open(part, mode) as f:
            for block in response.iter_content(chunk_size=chunk):
                f.write(block)
                written += len(block)
                bar.update(len(block))
    except requests.RequestException as e:
        raise MiniMindError(
            f"download of {url} broke off after {human_bytes(written)} of {human_bytes(total)} "
            f"({type(e).__name__}); the partial file is kept as {part}",
            "run the same command again to resume from there; " + hint) from None
    except OSError as e:
        raise MiniMindError(f"cannot write {part}: {e}", "check the free disk space and --dir") from None


def _verify(url: str, part: Path, total: int | None, expected_size: int | None, sha256: str | None,
            hint: str) -> None:
    size = part.stat().st_size
    if total is not None and size < total:
        raise MiniMindError(
            f"download of {url} ended after {size:,} of the {total:,} bytes the server announced; "
            f"the partial file is kept as {part}", "run the same command again to resume from there; " + hint)
    if total is not None and size > total:
        _reject(part, f"download of {url} gave {size:,} bytes, more than the {total:,} announced", hint)
    if expected_size is not None and size != expected_size:
        _reject(part, f"download of {url} gave {size:,} bytes, but {expected_size:,} were expected", hint)
    if sha256 and (actual := file_sha256(part)) != sha256.lower():
        _reject(part, f"download of {url} has sha256 {actual}, but {sha256.lower()} was expected", hint)


def _reject(part: Path, message: str, hint: str) -> None:
    part.unlink(missing_ok=True)
    raise MiniMindError(f"{message}; the download was deleted ({part.name}).", hint)


def file_sha256(path: Path, chunk: int = CHUNK) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _content_length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _content_range(response: Any) -> tuple[int | None, int | None]:
    """(start, total) from `Content-Range: bytes START-END/TOTAL` or `bytes */TOTAL`."""
    value = response.headers.get("Content-Range", "")
    unit, _, spec = value.partition(" ")
    if unit.strip().lower() != "bytes" or "/" not in spec:
        return None, None
    span, _, total = spec.partition("/")
    start = span.partition("-")[0]
    return (int(start) if start.isdigit() else None), (int(total) if total.isdigit() else None)


def _range_start(response: Any) -> int | None:
    return _content_range(response)[0]


def _range_total(response: Any) -> int | None:
    return _content_range(response)[1]
