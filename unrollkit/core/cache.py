"""Disk cache of compiled kernels.

An entry is one file ``<key>.ukc``: a magic line, the SHA-256 of the payload, and the payload
(JSON, holding its own key). Writes go to a temporary file in the same folder and are renamed
into place, so a reader sees a whole entry or none, and two processes compiling the same kernel
both succeed. An entry is used only if its checksum holds, the key inside it is the one asked
for (a valid entry copied under another name is refused), and its fields have the expected
types; anything else is removed and rebuilt by the caller.

What the cache trusts: its folder and files, if owned by the current user and not writable by
group or others (as ssh and pip do). A folder or entry that is not is ignored with a warning:
nothing in it is loaded, nothing is written to it. The folder is created with mode 0o700.

``UNROLLKIT_CACHE_DIR`` relocates the cache; ``UNROLLKIT_CACHE=0`` disables it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
import tempfile
import warnings
from pathlib import Path

MAGIC = b"UNROLLKIT-CACHE-2\n"
SUFFIX = ".ukc"
#: prefix of the temporary files a write goes through
TMP_PREFIX = ".tmp-"
#: the files of the cache folder `clear` may remove: entries and their temporary files
OWN_FILE = re.compile(r"(?:[0-9a-f]{64}|" + re.escape(TMP_PREFIX) + r"[a-z0-9_]{8})" + re.escape(SUFFIX))


class UntrustedCacheWarning(UserWarning):
    """A cache folder or entry was ignored: not owned by this user, or writable by others."""


def enabled() -> bool:
    """Whether the disk cache is on: ``UNROLLKIT_CACHE`` is not 0, false, no or off (on by default)."""
    return os.environ.get("UNROLLKIT_CACHE", "1").lower() not in ("0", "false", "no", "off")


def directory() -> Path:
    """The cache folder: ``UNROLLKIT_CACHE_DIR``, else ``unrollkit`` under ``XDG_CACHE_HOME`` or
    ``~/.cache``."""
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


# ---------------------------------------------------------------- trust


_warned: set = set()


def untrusted_reason(st: os.stat_result) -> str | None:
    """Why a file or folder with status ``st`` must not be trusted, or None."""
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by the current user ({os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _warn(path, why: str) -> None:
    if (str(path), why) not in _warned:
        _warned.add((str(path), why))
        warnings.warn(f"unrollkit: ignoring the cache at {path}: {why}; fix its owner or mode "
                      f"(chmod go-w) or set UNROLLKIT_CACHE_DIR", UntrustedCacheWarning, stacklevel=3)


def trusted_folder(d: Path, create: bool = False) -> bool:
    """Whether cache folder ``d`` may be used (created with mode 0o700 when ``create``)."""
    try:
        if create:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = d.stat()
    except OSError:
        return False
    why = "not a directory" if not stat.S_ISDIR(st.st_mode) else untrusted_reason(st)
    if why:
        _warn(d, why)
        return False
    return True


def read_trusted(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file this user owns and only this user can
    write (checked on the open file, so a swap after the check is harmless), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        why = "not a regular file" if not stat.S_ISREG(st.st_mode) else untrusted_reason(st)
        if why:
            _warn(path, why)
            return None
        return f.read()


# ---------------------------------------------------------------- entries


def _path(key: str) -> Path:
    return directory() / (key + SUFFIX)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def get(key: str, require: dict | None = None) -> dict | None:
    """The entry for ``key``, or None if absent, disabled, untrusted or damaged (then removed).

    ``require``: field name → type (or tuple of types) the entry must have; ``object`` is
    always required (bytes). An int field refuses a bool."""
    if not enabled() or not trusted_folder(directory()):
        return None
    path = _path(key)
    data = read_trusted(path)
    if data is None:
        return None
    try:
        if not data.startswith(MAGIC):
            raise ValueError("bad magic")
        digest, payload = data[len(MAGIC):len(MAGIC) + 64], data[len(MAGIC) + 65:]
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            raise ValueError("checksum mismatch")
        entry = json.loads(payload)
        if not isinstance(entry, dict) or entry.get("key") != key:
            raise ValueError("an entry of another key")
        if not isinstance(entry.get("object"), str):
            raise ValueError("no object")
        entry["object"] = base64.b64decode(entry["object"], validate=True)
        for name, ty in (require or {}).items():
            v = entry.get(name)
            if not isinstance(v, ty) or (isinstance(v, bool) and bool not in _types(ty)):
                raise ValueError(f"field {name!r} missing or of the wrong type")
        return entry
    except (ValueError, TypeError, RecursionError, binascii.Error, MemoryError):
        _remove(path)
        return None


def _types(ty) -> tuple:
    return ty if isinstance(ty, tuple) else (ty,)


def discard(key: str) -> None:
    """Remove the entry for ``key`` (one that could not be used)."""
    _remove(_path(key))


def put(key: str, entry: dict) -> None:
    """Store ``entry`` (JSON-able, with bytes under ``object``) atomically; errors are ignored:
    a cache that cannot be written (or is not trusted) only costs a recompile."""
    if not enabled():
        return
    d = directory()
    if not trusted_folder(d, create=True):
        return
    try:
        body = dict(entry, key=key, object=base64.b64encode(entry["object"]).decode())
        payload = json.dumps(body, sort_keys=True).encode()
        blob = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
        atomic_write(_path(key), blob, TMP_PREFIX)
    except OSError:
        return


def atomic_write(path: Path, data: bytes, prefix: str = ".tmp-") -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic
    rename: a reader sees the old file or the whole new one, never half of it, and two
    processes writing the same file both succeed. Raises OSError (the temporary is removed)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        _remove(Path(tmp))
        raise


def info() -> dict:
    """The cache's folder, whether it is enabled, and the number and total bytes of its entries."""
    d = directory()
    files = [f for f in d.glob("*" + SUFFIX) if OWN_FILE.fullmatch(f.name)] if d.is_dir() else []
    return {"directory": str(d), "enabled": enabled(), "entries": len(files),
            "bytes": sum(f.stat().st_size for f in files)}


def clear() -> int:
    """Remove the entries (and temporary files) this cache wrote; other files stay."""
    return remove_own(directory(), OWN_FILE)


def remove_own(folder: Path, own) -> int:
    """Remove the regular files of ``folder`` whose whole name matches the regex ``own``
    (the files unrollkit wrote there); returns how many."""
    n = 0
    if folder.is_dir():
        for f in folder.iterdir():
            if own.fullmatch(f.name) and f.is_file() and not f.is_symlink():
                try:
                    f.unlink()
                    n += 1
                except OSError:
                    pass
    return n
