"""Fill the exact `bytes` and `sha256` of every file in minimind_notes/data/catalog.yaml.

    python tools/refresh_catalog.py [--endpoint https://huggingface.co] [--only dpo,rlaif] [--dry-run]

For a file on Hugging Face the values come from the hub's published listing
(`GET {endpoint}/api/{datasets|models}/{repo}/tree/{revision}?recursive=1`): `size`, and for an LFS
file `lfs.oid` (its sha256). A small file without LFS (tokenizer_config.json) and a file elsewhere
(TinyShakespeare on GitHub) is downloaded and hashed, up to --max-download MB. The catalogue is
edited in place, value by value, so its comments and layout stay as they are. Nothing is guessed:
a file the hub does not list keeps its old values and is reported, and the exit code is then 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minimind_notes.data import download as dl  # noqa: E402
from minimind_notes.fileio import atomic_write_text  # noqa: E402

HF_PATH = re.compile(r"^(?P<kind>datasets/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<path>.+)$")


def hub_listing(endpoint: str, kind: str, repo: str, revision: str, cache: dict) -> dict[str, dict]:
    """path -> tree entry of one repository, following the listing's pages."""
    key = (kind, repo, revision)
    if key not in cache:
        url = f"{endpoint}/api/{kind}/{repo}/tree/{revision}?recursive=1"
        files: dict[str, dict] = {}
        while url:
            response = requests.get(url, timeout=60)
            response.raise_for_status()
            files.update({item["path"]: item for item in response.json() if item.get("type") == "file"})
            url = response.links.get("next", {}).get("url")
        cache[key] = files
    return cache[key]


def hash_download(url: str, limit: int) -> tuple[int, str]:
    """(bytes, sha256) of the file at `url`, refusing one larger than `limit` bytes."""
    digest, size = hashlib.sha256(), 0
    with requests.get(url, stream=True, timeout=60, headers={"Accept-Encoding": "identity"}) as response:
        response.raise_for_status()
        for block in response.iter_content(1 << 20):
            size += len(block)
            if size > limit:
                raise ValueError(f"larger than --max-download ({limit // 2**20} MB)")
            digest.update(block)
    announced = response.headers.get("Content-Length")
    if announced and announced.isdigit() and int(announced) != size:
        raise ValueError(f"the transfer gave {size} bytes of the {announced} announced")
    return size, digest.hexdigest()


def published(url: str, endpoint: str, limit: int, cache: dict) -> tuple[int, str]:
    """(bytes, sha256) of one catalogue file, from the hub's listing where it has them."""
    m = HF_PATH.match(url[len(endpoint) + 1:]) if url.startswith(endpoint + "/") else None
    if m:
        kind = "datasets" if m["kind"] else "models"
        item = hub_listing(endpoint, kind, m["repo"], m["revision"], cache).get(unquote(m["path"]))
        if item is None:
            raise ValueError(f"not in the listing of {kind}/{m['repo']}@{m['revision']}")
        lfs = item.get("lfs") or {}
        sha = lfs.get("sha256") or lfs.get("oid")
        if sha:
            return int(lfs.get("size", item["size"])), sha.lower()
    return hash_download(url, limit)  # not LFS (the listing has only its git sha1), or not on the hub


def set_values(text: str, entry: str, file: str, size: int, sha: str, bundle: bool) -> str:
    """The catalogue text with `file`'s bytes and sha256 replaced inside `entry`'s block only."""
    start = re.search(rf"^  - name: {re.escape(entry)}\s*$", text, flags=re.M)
    if start is None:
        raise ValueError(f"entry {entry} not found in the catalogue text")
    end = re.compile(r"^  - name: |^\S", re.M).search(text, start.end())
    stop = end.start() if end else len(text)
    block = text[start.start():stop]
    if bundle:
        pattern = rf"(\{{file: {re.escape(file)}, bytes: )[^,]*(, sha256: )[^}}]*(\}})"
        new, n = re.subn(pattern, rf"\g<1>{size}\g<2>{sha}\g<3>", block)
    else:
        value = r"[^\n#]*?([ \t]*(?:#[^\n]*)?)$"  # the value, then any comment after it (kept)
        new, n1 = re.subn(r"^(    bytes:)" + value, rf"\g<1> {size}\g<2>", block, count=1, flags=re.M)
        new, n2 = re.subn(r"^(    sha256:)" + value, rf"\g<1> {sha}\g<2>", new, count=1, flags=re.M)
        n = min(n1, n2)
    if not n:
        raise ValueError(f"no bytes/sha256 fields for {file} in entry {entry}")
    return text[:start.start()] + new + text[stop:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT") or dl.DEFAULT_HF_ENDPOINT,
                        help="Hugging Face host (default $HF_ENDPOINT or https://huggingface.co)")
    parser.add_argument("--catalog", type=Path, default=dl.CATALOG_PATH, help="catalog.yaml to rewrite")
    parser.add_argument("--only", default="", help="comma-separated entry names (default: all)")
    parser.add_argument("--max-download", type=int, default=50, help="MB: largest file hashed by downloading it")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    args = parser.parse_args(argv)

    endpoint = args.endpoint.rstrip("/")
    os.environ["HF_ENDPOINT"] = endpoint
    os.environ.pop(dl.URL_ENV, None)  # the hubs' own URLs, never a local override
    dl.CATALOG_PATH = args.catalog
    dl.catalog.cache_clear()
    only = {n for n in args.only.split(",") if n}
    text = args.catalog.read_text(encoding="utf-8")
    cache: dict = {}
    failed = 0
    for entry in dl.entries():
        if only and entry.name not in only:
            continue
        source = "modelscope" if entry.urls and not {"huggingface", "any"} & entry.urls.keys() else "huggingface"
        for target, file in zip(dl.resolve_all(entry.name, source), entry.files, strict=True):
            try:
                size, sha = published(target.url, endpoint, args.max_download * 2**20, cache)
                text = set_values(text, entry.name, file, size, sha, entry.is_bundle)
            except (requests.RequestException, ValueError, KeyError) as e:
                failed += 1
                print(f"FAILED  {entry.name}/{file}: {e}", file=sys.stderr)
                continue
            old = entry.expected(file)
            mark = "same   " if old == (size, sha) else "updated" if old != (None, None) else "filled "
            print(f"{mark} {entry.name}/{file}: {size} bytes, sha256 {sha}")
    if not args.dry_run:
        atomic_write_text(args.catalog, text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
