"""Downloads of the real MiniMind data: resumable, verified, never half a file under its final name.

The catalogue (`catalog.yaml` beside this file) names the files; `resolve` turns a name into a URL
for a source (ModelScope or Hugging Face); `download` fetches it:

* bytes go to `NAME.part`; an interrupted download resumes from there with `Range`, asking again
  for the last 64 KiB it already has and comparing them, so a stale `.part` (zeros, an older
  version of the file) is noticed and the download starts again from 0;
* the result is accepted only when its size matches every source that gives one (the catalogue's
  `bytes`, Hugging Face's X-Linked-Size, Content-Length) and its sha256 every source that gives one
  (the catalogue's `sha256`, Hugging Face's X-Linked-Etag); with no sha256 anywhere the file is
  saved as "unverified", and with no size either it is not accepted at all;
* a web page (a login or error page) where data or weights are expected is refused;
* a failed or refused request raises MiniMindError naming the URL and what went wrong, with a hint
  on the other source or a mirror.

Environment: HF_ENDPOINT (default https://huggingface.co; e.g. https://hf-mirror.com) is the Hugging
Face host. MINIMIND_DATA_URL replaces every catalogue URL with a template of one's own: `{file}`
stands for the file name, and a template without `{file}` gets `/FILE` appended
(e.g. MINIMIND_DATA_URL=http://127.0.0.1:8000 for a local server; the tests use this).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from minimind_notes.content import home_dir
from minimind_notes.errors import MiniMindError, UsageError, warn_once
from minimind_notes.fileio import LockHeld, atomic_write_text, check_writable_folder, file_lock

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
SOURCES = ("modelscope", "huggingface")
URL_ENV = "MINIMIND_DATA_URL"
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
MIRROR_HINT = "HF_ENDPOINT=https://hf-mirror.com"
CHUNK = 1 << 20
OVERLAP = 64 * 1024  # bytes of a .part asked for again on resume, to check they are the same file's


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
    checks: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)  # file -> (bytes, sha256)
    tokenizer: str | None = None  # weights: the entry holding the tokenizer they were trained with
    format: str = ""  # what a row or file looks like
    stage: str = ""  # the command that reads it
    trainable: bool | dict[str, str] = True  # or why this project cannot train on it today (en, zh)
    unpack: bool = False  # an archive: `data download` extracts it into DIR/<name>/

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Entry:
        """`file` + `bytes` + `sha256`, or `files`: a list of {file, bytes, sha256} (a bundle)."""
        raw = dict(raw)
        items = raw.pop("files", None) or [{"file": raw.pop("file"), "bytes": raw.pop("bytes", None),
                                            "sha256": raw.pop("sha256", None)}]
        items = [i if isinstance(i, dict) else {"file": i} for i in items]
        checks = {i["file"]: (i.get("bytes"), i.get("sha256")) for i in items}
        return cls(files=tuple(checks), checks=checks, **raw)

    @property
    def is_bundle(self) -> bool:
        return len(self.files) > 1

    def expected(self, file: str) -> tuple[int | None, str | None]:
        """The exact (bytes, sha256) of one of its files, None where the catalogue does not know."""
        return self.checks.get(file, (None, None))


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


def unpack(archive: Path, dest: Path) -> int:
    """Extract a downloaded zip or tar into `dest` (replacing it only once complete); members that would land
    outside it (absolute paths, ..) or are links are refused. Returns the number of files."""
    import shutil
    import tarfile
    import tempfile
    import zipfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as tmp:
        root = Path(tmp).resolve()
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                members = [m for m in z.infolist() if not m.is_dir()]
                for m in members:
                    if not (root / m.filename).resolve().is_relative_to(root):
                        raise MiniMindError(f"{archive}: the member {m.filename!r} would land outside {dest}",
                                            hint="this archive is not the published one: download it again")
                z.extractall(root)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                try:
                    t.extractall(root, filter="data")  # refuses paths outside root, links out, devices
                except tarfile.FilterError as e:
                    raise MiniMindError(f"{archive}: {e}", hint="this archive is not the published one: "
                                                                "download it again") from None
                members = [m for m in t.getmembers() if m.isfile()]
        else:
            raise MiniMindError(f"{archive} is neither a zip nor a tar archive",
                                hint="download it again with --force")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(root, dest)
        root.mkdir()  # TemporaryDirectory removes what is at its path: an empty folder
    return len(members)


# --------------------------------------------------------------------------- URLs

def hf_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/")


def source_hint(source: str | None = None, url_template: str | None = None) -> str:
    """How to get the same file elsewhere, shown under every download error (a --url replaces every
    source, so then it is the URL to check)."""
    if url_template:
        return (f"check the URL template {url_template!r} (--url or {URL_ENV}); without it the catalogue's "
                "sources are used")
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


def check_url_template(template: str) -> str:
    """A --url (or MINIMIND_DATA_URL) template that gives http(s) URLs with a host, checked before any request."""
    parts = urlsplit(fill_template(template, "FILE"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url {template!r} (or {URL_ENV}) is not an http:// or https:// URL with a host",
                         hint="e.g. --url http://127.0.0.1:8000 (/FILE is appended) or "
                              "--url 'https://mirror.example/data/{file}'")
    return template


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
    return fill_template(fixed, file) if "{file}" in fixed else fixed.replace("{endpoint}", hf_endpoint())


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
    known = next((e for e in entries() if e.repo == repo and not e.urls and file in e.files), None)
    return Resolved(url, file, *(known.expected(file) if known else (None, None)))


def _resolved(entry: Entry, file: str, source: str, url_template: str | None) -> Resolved:
    url = entry_url(entry, file, source, url_template)
    filename = entry.save_as if not entry.is_bundle and entry.save_as else file
    return Resolved(url, filename, *entry.expected(file))


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


class Downloaded(NamedTuple):
    """A file accepted under its final name, and what vouched for it."""

    path: Path
    size: int
    sha256: str | None  # the sha256 it was checked against; None: no source published one
    checked: str  # which sources it matched, in words


class Published(NamedTuple):
    """What the server says about the whole file (not just this response)."""

    total: int | None  # Content-Length of a 200, or the total of Content-Range
    size: int | None  # X-Linked-Size (Hugging Face: the LFS file's size)
    sha256: str | None  # X-Linked-Etag (Hugging Face: the LFS file's sha256)


def download(url: str, dest: str | os.PathLike, expected_size: int | None = None, sha256: str | None = None,
             chunk: int = CHUNK, timeout: float = 30, hint: str | None = None, progress: bool = True,
             say: Callable[[str], None] = lambda text: None) -> Downloaded:
    """Fetch `url` to `dest`, resuming `dest.part` if an earlier try left one; verify; rename.

    The final name appears only for a file whose size matches every source that gives one
    (`expected_size`, X-Linked-Size, Content-Length; at least one must) and whose sha256 matches
    every source that gives one (`sha256`, X-Linked-Etag). A transfer cut short keeps its `.part`
    for the next try; a complete transfer with the wrong size or hash is deleted. `say` hears
    what the download decided on its own (a stale `.part` started again).
    """
    dest = Path(dest)
    hint = hint or source_hint()
    _check_target(dest)
    part = part_path(dest)
    try:
        with _download_lock(dest):  # one writer of the .part at a time
            published = _fetch(url, part, chunk, timeout, hint, progress, say)
            return _verify(url, part, dest, published, expected_size, sha256, hint)
    except LockHeld:
        raise MiniMindError(f"{dest.name} is being downloaded into {dest.parent} by another process right now",
                            hint="wait for it to finish (`minimind data verify` then checks the file), or stop it "
                                 "and run this again to resume") from None


def _download_lock(dest: Path) -> contextlib.AbstractContextManager:
    """A lock that two downloads of the same file cannot both hold, kept under MINIMIND_HOME (not beside the
    data); where that cannot be written, no lock (a download never fails for its bookkeeping)."""
    folder = home_dir() / "locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return contextlib.nullcontext()
    if not os.access(folder, os.W_OK):
        return contextlib.nullcontext()
    key = hashlib.sha256(str(dest.resolve()).encode()).hexdigest()[:16]
    return file_lock(folder / f"download-{key}.lock", wait=False)


def _check_target(dest: Path) -> None:
    """One clear message when the download cannot land where it is asked to."""
    check_writable_folder(dest.parent, hint="give --dir a folder you can write to (it is created if missing)")
    if dest.is_dir():
        raise MiniMindError(f"cannot save {dest}: a folder of that name is in the way",
                            hint="move that folder, or give another --dir")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MiniMindError(f"cannot create {dest.parent} ({e.strerror or e})",
                            hint="give --dir a folder you can write to") from None


def _fetch(url: str, part: Path, chunk: int, timeout: float, hint: str, progress: bool,
           say: Callable[[str], None]) -> Published:
    """Write the remote file into `part`, appending when the server honours Range and the bytes
    we have agree with its copy; return what the server published about the whole file."""
    for _attempt in range(3):
        have = part.stat().st_size if part.exists() else 0
        overlap = min(have, OVERLAP)  # asked for again, to check that what we have is this file
        start = have - overlap
        with _request(url, start if have else None, timeout, hint) as response:
            linked = _linked(response)
            status = response.status_code
            if status == 206 and have and _range_start(response) == start:
                total = _range_total(response)
                tail = _tail(part, overlap)
                if (total is None or total >= have) and _write(response, part, "ab", have, total, url, chunk,
                                                               hint, progress, expect=tail):
                    return Published(total, *linked)
            elif status == 200:
                total = _content_length(response)
                _write(response, part, "wb", 0, total, url, chunk, hint, progress)
                return Published(total, *linked)
            elif status not in (206, 416):
                raise _status_error(url, response, hint)
        say(f"{part.name} does not match the file on the server (left from another version, or damaged): "
            "starting again from 0")
        part.unlink(missing_ok=True)
    raise MiniMindError(f"download failed: {url} kept answering a range request that does not fit", hint)


def _tail(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(-n, os.SEEK_END)
        return f.read(n)


def _request(url: str, start: int | None, timeout: float, hint: str):  # a requests.Response
    import requests

    headers = {"Accept-Encoding": "identity"}  # sizes and ranges count the bytes as stored
    if start is not None:
        headers["Range"] = f"bytes={start}-"
    try:
        return requests.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.Timeout:
        raise MiniMindError(f"download failed: {url} did not answer within {timeout:g} s", hint) from None
    except requests.RequestException as e:
        host = urlsplit(url).netloc or url
        raise MiniMindError(f"download failed: cannot connect to {host} for {url} ({type(e).__name__})",
                            hint) from None


def _linked(response: Any) -> tuple[int | None, str | None]:
    """Hugging Face's X-Linked-Size and X-Linked-Etag (the LFS sha256), on the answer or a redirect."""
    size = sha = None
    for r in (*response.history, response):
        value = r.headers.get("X-Linked-Size", "")
        size = int(value) if value.isdigit() else size
        etag = r.headers.get("X-Linked-Etag", "").removeprefix("W/").strip('"').lower()
        sha = etag if re.fullmatch(r"[0-9a-f]{64}", etag) else sha
    return size, sha


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


def looks_like_html(head: bytes) -> bool:
    return head.lstrip()[:9].lower().startswith((b"<!doctype", b"<html"))


def _web_page(url: str, name: str, hint: str) -> MiniMindError:
    return MiniMindError(f"{url} sent a web page (a login or error page), not the file {name}; it was not saved",
                         "open the URL in a browser to read the page: the file may need a login, or be gone "
                         "from this source; " + hint)


def _write(response: Any, part: Path, mode: str, have: int, total: int | None, url: str,
           chunk: int, hint: str, progress: bool, expect: bytes = b"") -> bool:
    """Stream the body into `part` (mode "wb" from 0, "ab" to append). With `expect`, the body
    starts with bytes we already have: False (nothing written) when they differ. A transfer that
    breaks off keeps every byte that arrived, and its message says how many."""
    import requests
    from tqdm import tqdm
    from urllib3.exceptions import HTTPError

    name = part.name.removesuffix(".part")
    written = have
    blocks = _blocks(response, chunk)
    try:
        head = b""
        for block in blocks:  # the overlap to compare, or the first block to look at
            head += block
            if len(head) >= max(len(expect), 1):
                break
        if expect:
            if len(head) < len(expect) and head == expect[: len(head)]:
                raise requests.ConnectionError("closed while checking the bytes we have")
            if head[: len(expect)] != expect:
                return False
            head = head[len(expect):]
        elif looks_like_html(head) and not name.lower().endswith((".html", ".htm")):
            raise _web_page(url, name, hint)  # before a 200 replaces a .part we may have
        bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=name, disable=not progress, leave=False)
        with bar, open(part, mode) as f:
            for block in chain([head], blocks):
                f.write(block)
                written += len(block)
                bar.update(len(block))
    except (requests.RequestException, HTTPError) as e:
        kept = part.stat().st_size if part.exists() else 0
        where = (f"the {human_bytes(kept)} that arrived are kept as {part}" if kept
                 else "nothing arrived, so no file was written")
        raise MiniMindError(
            f"download of {url} broke off after {human_bytes(written)} of {human_bytes(total)} "
            f"({type(e).__name__}); {where}",
            ("run the same command again to resume from there; " if kept else "run the same command again; ")
            + hint) from None
    except OSError as e:
        raise MiniMindError(f"cannot write {part}: {e}", "check the free disk space and --dir") from None
    return True


def _blocks(response: Any, chunk: int) -> Iterator[bytes]:
    """The body in blocks of up to `chunk` bytes, each handed over as soon as it arrived: a connection
    that breaks mid-block loses nothing (requests' iter_content would drop the bytes of that block)."""
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # urllib3 >= 2 has read1
    while block := read(chunk, decode_content=True):
        yield block


def _verify(url: str, part: Path, dest: Path, published: Published, expected_size: int | None,
            sha256: str | None, hint: str) -> Downloaded:
    size = part.stat().st_size
    with open(part, "rb") as f:
        if looks_like_html(f.read(1024)) and not dest.name.lower().endswith((".html", ".htm")):
            part.unlink()
            raise _web_page(url, dest.name, hint)
    sizes = {label: n for label, n in (("the catalogue", expected_size), ("the server's X-Linked-Size", published.size),
                                       ("the size the server announced", published.total)) if n is not None}
    # Short of what the transfer announced, or (announcing nothing) of a published size: cut, resumable.
    if size < (published.total if published.total is not None else max(sizes.values(), default=0)):
        said = ", ".join(f"{label} says {n:,}" for label, n in sizes.items())
        raise MiniMindError(f"download of {url} is incomplete: {size:,} bytes arrived ({said}); "
                            f"the partial file is kept as {part}",
                            "run the same command again to resume from there; " + hint)
    for label, n in sizes.items():
        if size != n:
            _reject(part, f"download of {url} gave {size:,} bytes, but {label} says {n:,}", hint)
    hashes = {label: h.lower() for label, h in (("the catalogue", sha256), ("the server's X-Linked-Etag",
                                                                            published.sha256)) if h}
    if hashes:
        actual = file_sha256(part)
        for label, h in hashes.items():
            if actual != h:
                _reject(part, f"download of {url} has sha256 {actual}, but {label} says {h}", hint)
    elif not sizes:
        raise MiniMindError(
            f"download of {url} cannot be checked: neither the catalogue nor the server gives its size or "
            f"sha256, so a cut transfer would look complete; the {size:,} bytes are kept as {part}",
            "try the other source (Hugging Face publishes sizes and hashes), or check the file yourself and "
            "rename it; " + hint)
    record = {"url": url, "bytes": size, "sha256": actual if hashes else file_sha256(part),
              "size_checked_against": sorted(sizes), "sha256_checked_against": sorted(hashes)}
    record_path(dest).unlink(missing_ok=True)  # never a record of the file this one replaces
    os.replace(part, dest)
    try:
        atomic_write_text(record_path(dest), json.dumps(record, indent=2))
    except OSError as e:
        warn_once(f"cannot write the download record {record_path(dest)} ({e}); `minimind data verify` will "
                  "only have the catalogue to check it against")
    checked = " and ".join(sorted({*sizes, *hashes}))
    return Downloaded(dest, size, next(iter(hashes.values()), None), checked)


def record_path(path: Path) -> Path:
    """`FILE.minimind.json`: what a download through this tool checked, and the size and sha256 of what arrived."""
    return path.with_name(path.name + ".minimind.json")


def read_record(path: Path) -> tuple[dict | None, str]:
    """(the download record of `path`, "") or (None, why there is none that can be used)."""
    try:
        record = json.loads(record_path(path).read_bytes())
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError) as e:
        return None, f"; its download record {record_path(path).name} is unreadable ({e})"
    valid = (isinstance(record, dict) and isinstance(record.get("bytes"), int)
             and re.fullmatch(r"[0-9a-f]{64}", str(record.get("sha256")))
             and all(isinstance(record.get(k), list) for k in ("size_checked_against", "sha256_checked_against")))
    return (record, "") if valid else (None, f"; its download record {record_path(path).name} is not one")


def _reject(part: Path, message: str, hint: str) -> None:
    part.unlink(missing_ok=True)
    raise MiniMindError(f"{message}; the download was deleted ({part.name}).", hint)


def verify_file(path: Path, size: int | None, sha256: str | None) -> tuple[str, str]:
    """(status, detail) of a file on disk: ok, wrong size, wrong hash, web page, missing, looks
    truncated, or unverified. It is checked against the catalogue's size and sha256, and against
    its download record (what arrived when this tool downloaded it, and what that was checked
    against). A file no published sha256 vouches for is "unverified", or "looks truncated" when it
    is JSONL whose last line is not whole JSON."""
    if not path.is_file():
        return "missing", ""
    actual = path.stat().st_size
    with open(path, "rb") as f:
        if looks_like_html(f.read(1024)) and not path.name.lower().endswith((".html", ".htm")):
            return "web page", "a saved login or error page, not the data"
    if size is not None and actual != size:
        return "wrong size", f"{actual:,} bytes, the catalogue says {size:,}"
    if sha256:
        digest = file_sha256(path)
        if digest != sha256.lower():
            return "wrong hash", f"sha256 {digest}, the catalogue says {sha256.lower()}"
        return "ok", ""
    record, record_problem = read_record(path)
    if record is not None:
        name = record_path(path).name
        if actual != record["bytes"]:
            return "wrong size", f"{actual:,} bytes, but {record['bytes']:,} arrived when it was downloaded ({name})"
        digest = file_sha256(path)
        if digest != record["sha256"]:
            return "wrong hash", f"sha256 {digest}, but what arrived had {record['sha256']} ({name}): it changed since"
        if record["sha256_checked_against"]:
            return "ok", f"as downloaded, when its sha256 matched {' and '.join(record['sha256_checked_against'])}"
        detail = (f"as downloaded, when its size matched {' and '.join(record['size_checked_against'])}; "
                  "no source publishes its sha256")
    else:
        detail = ("its size matches; the catalogue has no sha256 for it" if size is not None
                  else "the catalogue has no size or sha256 for it") + record_problem
    cut = truncation(path)
    return ("looks truncated", cut) if cut else ("unverified", detail)


TAIL = 16 << 20  # bytes read from the end of a JSONL file to find its last line


def truncation(path: Path) -> str | None:
    """Why a .jsonl file looks cut short, or None. A row is a JSON object, and no part of one short of
    all of it parses, so a last line that does not parse is what a transfer cut mid-line leaves."""
    if path.suffix.lower() != ".jsonl":
        return None
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(size - TAIL, 0))
        lines = f.read().rstrip(b"\r\n").rsplit(b"\n", 1)
    if size == 0:
        return "the file is empty"
    if len(lines) == 1 and size > TAIL:
        return None  # a last line longer than we look at: no telling
    try:
        json.loads(lines[-1])
    except ValueError:
        return f"its last line is not whole JSON ({size:,} bytes, cut mid-line?)"
    return None


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
