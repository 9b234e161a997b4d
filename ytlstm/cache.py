"""A small on-disk result cache for the study's stages.

Each stage's result is stored under a key made of the stage's name, the configuration
fields it reads, the hashes of the package modules it runs, and the keys of the stages it
consumes (which carry the data's content hash). So a rebuild with nothing changed loads
everything, and a change re-runs exactly the stages that depend on it. Writes are atomic
(a temporary file renamed into place), so an interrupted run never leaves a broken entry;
the files and folders written get the user's normal permissions (``0o666``/``0o777`` less the
umask), not the private ``0o600``/``0o700`` of :mod:`tempfile`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable

PACKAGE_DIR = Path(__file__).resolve().parent


def module_hash(name: str) -> str:
    """SHA-256 of one package module's source (``"data"`` -> ``ytlstm/data.py``)."""
    path = PACKAGE_DIR / f"{name.replace('.', '/')}.py"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_key(stage: str, params: Any, modules: tuple[str, ...] | list[str],
             upstream: tuple[str, ...] | list[str] = ()) -> str:
    """The cache key of a stage: a hash of everything its result depends on."""
    payload = {
        "stage": stage,
        "params": params,
        "modules": {m: module_hash(m) for m in sorted(modules)},
        "upstream": list(upstream),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def current_umask() -> int:
    """The process's umask, read without changing it where Linux's /proc allows (changing it
    for a moment, as the fallback does, would race other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_file(folder: Path, prefix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``folder`` (for a rename into place), with the permissions an
    ordinary ``open()`` would give (``0o666`` less the umask) instead of ``0o600``."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def temp_folder(beside: Path) -> Path:
    """A fresh temporary folder beside ``beside`` (to be renamed into its place), with the
    permissions ``mkdir`` would give (``0o777`` less the umask) instead of ``0o700``."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{beside.name}-", dir=beside.parent))
    tmp.chmod(0o777 & ~current_umask())
    return tmp


class ResultCache:
    """Pickled stage results in a folder, one file per (stage, key)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits: list[str] = []
        self.misses: list[str] = []

    def path(self, stage: str, key: str) -> Path:
        return self.root / f"{stage}-{key}.pkl"

    def load(self, stage: str, key: str) -> Any:
        with open(self.path(stage, key), "rb") as f:
            return pickle.load(f)

    def store(self, stage: str, key: str, value: Any) -> None:
        tmp = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = temp_file(self.root, prefix=f".{stage}-")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path(stage, key))
            tmp = None
        except OSError as e:
            from ytlstm.errors import DataError

            raise DataError(self.root, f"cannot write the result cache ({e.strerror})",
                            expected="a writable folder with free space (--cache-dir)") from None
        finally:
            if tmp is not None:  # a failed write (unpicklable value, disk full) leaves no file
                Path(tmp).unlink(missing_ok=True)

    def get_or_compute(self, stage: str, key: str, compute: Callable[[], Any]) -> Any:
        """The cached result, or ``compute()`` stored under the key."""
        p = self.path(stage, key)
        if p.exists():
            try:
                value = self.load(stage, key)
                self.hits.append(stage)
                return value
            except (EOFError, pickle.UnpicklingError, AttributeError, ImportError):
                pass  # unreadable (e.g. written by an incompatible version): recompute
        value = compute()
        self.store(stage, key, value)
        self.misses.append(stage)
        return value


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically (a temporary file renamed into place)."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a binary file atomically (a temporary file renamed into place)."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        from ytlstm.errors import DataError

        raise DataError(path.parent, f"cannot write results ({e.strerror})",
                        expected="a writable folder with free space (--out)") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
