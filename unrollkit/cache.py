"""Disk cache of compiled kernels.

An entry is one file ``<key>.ukc``: a magic line, the SHA-256 of the payload, and the payload
(JSON). Writes go to a temporary file in the same folder and are renamed into place, so a
reader sees a whole entry or none, and two processes compiling the same kernel both succeed.
A corrupted or truncated entry fails its checksum, is removed, and is rebuilt by the caller.

``UNROLLKIT_CACHE_DIR`` relocates the cache; ``UNROLLKIT_CACHE=0`` disables it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path

MAGIC = b"UNROLLKIT-CACHE-1\n"
SUFFIX = ".ukc"


def enabled() -> bool:
    return os.environ.get("UNROLLKIT_CACHE", "1").lower() not in ("0", "false", "no", "off")


def directory() -> Path:
    env = os.environ.get("UNROLLKIT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "unrollkit"


def make_key(*parts) -> str:
    """A stable hex key over anything with a deterministic ``repr``."""
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()


def _path(key: str) -> Path:
    return directory() / (key + SUFFIX)


def get(key: str) -> dict | None:
    """The entry for ``key``, or None if absent, disabled, or damaged (then it is removed)."""
    if not enabled():
        return None
    path = _path(key)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(MAGIC):
            raise ValueError("bad magic")
        digest, payload = data[len(MAGIC):len(MAGIC) + 64], data[len(MAGIC) + 65:]
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            raise ValueError("checksum mismatch")
        entry = json.loads(payload)
        entry["object"] = base64.b64decode(entry["object"])
        return entry
    except (ValueError, KeyError, TypeError):
        try:
            path.unlink()
        except OSError:
            pass
        return None


def put(key: str, entry: dict) -> None:
    """Store ``entry`` (JSON-able, with bytes under ``object``) atomically; errors are ignored:
    a cache that cannot be written only costs a recompile."""
    if not enabled():
        return
    d = directory()
    try:
        d.mkdir(parents=True, exist_ok=True)
        body = dict(entry, object=base64.b64encode(entry["object"]).decode())
        payload = json.dumps(body, sort_keys=True).encode()
        blob = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, _path(key))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return


def info() -> dict:
    d = directory()
    files = list(d.glob("*" + SUFFIX)) if d.is_dir() else []
    return {"directory": str(d), "enabled": enabled(), "entries": len(files),
            "bytes": sum(f.stat().st_size for f in files)}


def clear() -> int:
    d = directory()
    n = 0
    if d.is_dir():
        for f in list(d.glob("*" + SUFFIX)) + list(d.glob(".tmp-*")):
            try:
                f.unlink()
                n += 1
            except OSError:
                pass
    return n
