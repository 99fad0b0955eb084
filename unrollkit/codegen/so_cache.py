"""The C variants' shared objects in the disk cache, verified before they are loaded.

``dlopen`` runs a shared object's constructors: loading a file that is not the one unrollkit
built runs foreign code. So each ``<stem>.so`` has a record ``<stem>.json`` (written atomically
after it) holding the build's key and the SHA-256 of the object; a cached object is loaded
only if the folder and both files are trusted (`cache.trusted_folder`, `cache.read_trusted`:
owned by this user, writable by no one else), the record's key is the one asked for, and the
bytes hash to the recorded digest. It is then loaded by its path: only this user can change
the folder between the check and the load. (Not through ``/proc/self/fd/N``: the dynamic
loader matches an already loaded library by that name, and fd numbers are reused — a second
object came back as the first.) Anything else (a 0-byte, truncated or replaced object, a
missing or foreign record) is built again.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

from unrollkit.core import cache
from unrollkit.core.cache import atomic_write
from unrollkit.core.errors import CompileError

ELF_MAGIC = b"\x7fELF"
#: the files of the C folder `clear` may remove: <kernel>-<variant>-<dtype>[-u<n>]-<compiler>-
#: <24 hex>.so|.json (see `cvariants.build`), and the temporary files they are written through
OWN_FILE = re.compile(r"(?:[a-z]+-[a-z+-]+-f(?:32|64)(?:-u\d+)?-[a-z]+-[0-9a-f]{24}"
                      r"|\.tmp-[a-z0-9_]{8})\.(?:so|json)")


def folder() -> Path | None:
    """``<cache>/c`` (created 0o700), or None when the cache is off, untrusted or unwritable."""
    if not cache.enabled() or not cache.trusted_folder(cache.directory(), create=True):
        return None
    d = cache.directory() / "c"
    return d if cache.trusted_folder(d, create=True) and os.access(d, os.W_OK) else None


def check_built(path: str, command: list) -> str:
    """The SHA-256 of the shared object a compiler just wrote to ``path``; a `CompileError` if
    it wrote nothing (or not an ELF object) although it exited 0."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(ELF_MAGIC):
        raise CompileError(f"{' '.join(map(str, command[:1]))} exited 0 but wrote "
                           f"{'no' if not data else 'no ELF'} shared object ({len(data)} bytes) "
                           f"to {path}: is it a working C compiler?")
    return hashlib.sha256(data).hexdigest()


def write_record(directory: Path, stem: str, record: dict) -> None:
    """Write ``<stem>.json`` atomically (after ``<stem>.so``); errors only cost a rebuild."""
    try:
        atomic_write(directory / (stem + ".json"), json.dumps(record, sort_keys=True, indent=1).encode())
    except OSError:
        pass


def load_cached(directory: Path, stem: str, key: str, load):
    """``load(record, path)`` on the cached ``<stem>.so`` if it verifies (see the module
    docstring); else None (build it again)."""
    raw = cache.read_trusted(directory / (stem + ".json"))
    try:
        record = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        record = None
    if not (isinstance(record, dict) and record.get("key") == key
            and isinstance(record.get("sha256"), str)
            and isinstance(record.get("compile_seconds"), (int, float))):
        return None
    so = directory / (stem + ".so")
    try:
        fd = os.open(so, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or cache.untrusted_reason(st):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
        if not data.startswith(ELF_MAGIC) or hashlib.sha256(data).hexdigest() != record["sha256"]:
            return None
        try:
            return load(record, str(so))
        except OSError:  # dlopen refused it after all: build it again
            return None
    finally:
        os.close(fd)


def clear() -> int:
    """Remove the shared objects, records and temporary files this cache wrote in ``<cache>/c``."""
    return cache.remove_own(cache.directory() / "c", OWN_FILE)
