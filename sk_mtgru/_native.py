"""The GRU kernel's time loops in C, built once per machine where a C compiler is.

What is built, when: the first time a GRU trains with the package's kernel on the
CPU in a process, ``_csrc/gru_loops.c`` (one small C file, no torch headers) is
compiled with the system's C compiler into a shared library in a cache folder --
``$SK_MTGRU_CACHE``, else ``$XDG_CACHE_HOME/sk_mtgru`` or ``~/.cache/sk_mtgru`` --
named after the source, the compiler flags and the CPU's features, so that a
machine compiles it once (about half a second) and every later process, every
worker of a grid search, loads it from there. The loops multiply matrices with
MKL's ``sgemm``, which torch's CPU build carries; it is looked up in torch's own
library, so nothing is linked at build time.

Where there is no compiler, torch was built without MKL, the compilation fails,
the library cannot be written, or ``SK_MTGRU_NATIVE=0`` is set, the Python loops
run instead: same results up to float rounding, somewhat slower.

The cache is trusted as far as ssh trusts ``~/.ssh``: loading a library runs its
code in the process, so the folder is created ``0700`` and the library written
``0700``; a folder or library that another user owns, or that group or others can
write, is not loaded (one warning names the path and the fix, and the Python
loops run). The library's SHA-256 is written beside it when it is built
(``gru_loops-<key>.sha256``) and checked before every load: a library that was
truncated, damaged or replaced since is built again, never loaded.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import warnings
from pathlib import Path

import torch

__all__ = ["native_loops"]

_SOURCE = Path(__file__).with_name("_csrc") / "gru_loops.c"
_FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-fPIC"]
_ABI = 2
_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}


def _cache_dir() -> Path:
    given = os.environ.get("SK_MTGRU_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "sk_mtgru"


def _cpu_features() -> str:
    """What ``-march=native`` compiles for: the CPU's flags (Linux), else the
    platform."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return sysconfig.get_platform()


def _compiler() -> str | None:
    configured = (sysconfig.get_config_var("CC") or "").split()
    for name in (os.environ.get("CC"), configured[0] if configured else None, "cc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _sgemm_address() -> int | None:
    """MKL's Fortran ``sgemm_`` in torch's CPU library, where torch has it."""
    library = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib"):
        if (library / name).exists():
            try:
                handle = ctypes.CDLL(str(library / name))
                return ctypes.cast(handle.sgemm_, ctypes.c_void_p).value
            except (OSError, AttributeError):
                return None
    return None


def _digest_path(library: Path) -> Path:
    return library.with_suffix(".sha256")


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it: readers never
    see it half-written, and it has ``mode`` from the start."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.chmod(partial, mode)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _build(target: Path, compiler: str) -> bool:
    """Compile the loops into ``target`` (mode 0700) and record its SHA-256 beside
    it (mode 0600); False where that cannot be done."""
    try:
        # Built beside its final name and renamed: processes that build at once
        # (a grid search's workers) never load a half-written library.
        handle, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
    except OSError:  # a cache folder that cannot be written
        return False
    os.close(handle)
    objects = partial[: -len(".so")] + ".o"
    try:
        # Compiled and linked apart: linking with -ffast-math would add GCC's
        # crtfastmath, which sets flush-to-zero for the whole process when the
        # library loads -- every subnormal in numpy and torch would become 0.
        for command in (
            [compiler, *_FLAGS, "-c", str(_SOURCE), "-o", objects],
            [compiler, "-shared", objects, "-o", partial, "-lm"],
        ):
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        os.chmod(partial, 0o700)
        digest = hashlib.sha256(Path(partial).read_bytes()).hexdigest()
        os.replace(partial, target)
        _write_private(_digest_path(target), digest.encode(), 0o600)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        for leftover in (partial, objects):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _distrust(path: Path) -> str | None:
    """Why ``path`` may not be trusted with code this process runs, or None: it
    must be this user's own, and writable by no one else (as ssh asks of
    ``~/.ssh``). A library itself must not be a symbolic link."""
    try:
        info = os.stat(path) if path.is_dir() else os.lstat(path)
    except OSError as exc:
        return f"it cannot be inspected ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if info.st_uid != os.geteuid():
        return f"it is owned by user id {info.st_uid}, not by you ({os.geteuid()})"
    if info.st_mode & 0o022:
        return f"group or others can write it (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _warn_untrusted(path: Path, reason: str) -> None:
    warnings.warn(
        f"sk_mtgru did not load its compiled GRU loops from {path}: {reason}, so "
        "whoever else can write there could run code in this process. The Python "
        "loops run instead (the same results, slower). To fix it, use a cache "
        "folder of your own that only you can write: set SK_MTGRU_CACHE to one, "
        f"or take ownership of {path} and run `chmod go-w {path}`.",
        UserWarning,
        stacklevel=2,
    )


def _intact(library: Path) -> bool:
    """Whether ``library`` is the file that was built: its SHA-256 is the one
    recorded beside it at build time."""
    try:
        recorded = _digest_path(library).read_text().strip()
        with open(library, "rb", opener=_no_follow) as f:
            actual = hashlib.sha256(f.read()).hexdigest()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == actual


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


def _load() -> ctypes.CDLL | None:
    if os.environ.get("SK_MTGRU_NATIVE", "1") == "0" or sys.platform == "win32":
        return None
    sgemm = _sgemm_address()
    compiler = _compiler()
    if sgemm is None or compiler is None or not _SOURCE.exists():
        return None
    key = hashlib.sha256(
        _SOURCE.read_bytes()
        + " ".join(_FLAGS).encode()
        + b"linked apart"
        + _cpu_features().encode()
        + compiler.encode()
    ).hexdigest()[:16]
    folder = _cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:  # a cache folder that cannot be made: the Python loops, quietly
        return None
    target = folder / f"gru_loops-{key}.so"
    for path in (folder, target, _digest_path(target)):
        reason = _distrust(path) if os.path.lexists(path) else None
        if reason is not None:
            _warn_untrusted(path, reason)
            return None
    if not _intact(target) and not (_build(target, compiler) and _intact(target)):
        return None
    try:
        library = ctypes.CDLL(str(target))
        if library.sk_mtgru_abi() != _ABI:
            return None
    except (OSError, AttributeError):
        return None
    library.sk_mtgru_set_sgemm(ctypes.c_void_p(sgemm))
    int_ = ctypes.c_int
    pointer = ctypes.c_void_p
    library.sk_mtgru_gru_forward.argtypes = [int_] * 3 + [pointer] * 6
    library.sk_mtgru_gru_forward.restype = None
    library.sk_mtgru_gru_backward.argtypes = [int_] * 3 + [pointer] * 9
    library.sk_mtgru_gru_backward.restype = None
    return library


def native_loops() -> ctypes.CDLL | None:
    """The compiled loops (built or loaded on the first call), or None where
    they cannot be had."""
    with _lock:
        if "library" not in _loaded:
            _loaded["library"] = _load()
        return _loaded["library"]
