"""The compiled GRU loops' cache is trusted only as far as ssh trusts ``~/.ssh``."""

import os
import stat
import subprocess
import warnings

import pytest

from sk_mtgru import _native

pytestmark = pytest.mark.skipif(
    _native._compiler() is None or _native._sgemm_address() is None,
    reason="no C compiler or no MKL in torch: the Python loops always run here",
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder, where the library is built once."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SK_MTGRU_CACHE", str(folder))
    assert _native._load() is not None
    return folder


def _library(folder):
    (library,) = folder.glob("gru_loops-*.so")
    return library


def _replace(path, data):
    """Write ``data`` as a new file at ``path``, as another process would leave it
    (this process has the built library mapped: writing into it would crash it)."""
    partial = path.with_name("partial")
    partial.write_bytes(data)
    partial.replace(path)


def _load_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a trusted, intact cache warns of nothing
        return _native._load()


def test_the_cache_folder_and_library_are_private_to_their_user(cache):
    library = _library(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(library.stat().st_mode) == 0o700
    digest = library.with_suffix(".sha256")
    assert stat.S_IMODE(digest.stat().st_mode) == 0o600
    assert len(digest.read_text()) == 64  # a SHA-256 in hex
    assert _load_quietly() is not None


def _planted_library(tmp_path, marker):
    """A library whose constructor writes ``marker`` when it is loaded."""
    source = tmp_path / "planted.c"
    source.write_text(
        "#include <stdio.h>\n"
        "__attribute__((constructor)) static void planted(void) {\n"
        f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("ran", f); '
        "fclose(f); }\n}\n"
        "int sk_mtgru_abi(void) { return 2; }\n"
    )
    built = tmp_path / "planted.so"
    subprocess.run(
        [_native._compiler(), "-shared", "-fPIC", str(source), "-o", str(built)],
        check=True,
        capture_output=True,
    )
    return built


def test_a_library_planted_in_a_cache_others_can_write_never_runs(cache, tmp_path):
    library = _library(cache)
    marker = tmp_path / "planted-code-ran"
    planted = _planted_library(tmp_path, marker)
    _replace(library, planted.read_bytes())
    # the planter records the digest too: only the folder's rights can stop it
    digest = _native.hashlib.sha256(library.read_bytes()).hexdigest()
    library.with_suffix(".sha256").write_text(digest)
    os.chmod(cache, 0o777)
    with pytest.warns(UserWarning, match="group or others can write it") as record:
        assert _native._load() is None
    assert str(cache) in str(record[0].message)
    assert "SK_MTGRU_CACHE" in str(record[0].message)
    assert not marker.exists()


@pytest.mark.parametrize("mode", [0o720, 0o702])
def test_a_library_its_group_or_others_can_write_is_not_loaded(cache, mode):
    library = _library(cache)
    os.chmod(library, mode)
    with pytest.warns(UserWarning, match=rf"mode {mode:04o}.*chmod go-w"):
        assert _native._load() is None


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user needs root",
)
def test_a_library_another_user_owns_is_not_loaded(cache):
    library = _library(cache)
    os.chown(library, 65534, 65534)
    with pytest.warns(UserWarning, match="owned by user id 65534"):
        assert _native._load() is None


def test_a_library_behind_a_symbolic_link_is_not_loaded(cache, tmp_path):
    library = _library(cache)
    elsewhere = tmp_path / "elsewhere.so"
    library.rename(elsewhere)
    library.symlink_to(elsewhere)
    with pytest.warns(UserWarning, match="symbolic link"):
        assert _native._load() is None


def _other_build(library, tmp_path):
    """The same loops compiled otherwise: the right interface, other code."""
    other = tmp_path / "other.so"
    subprocess.run(
        [_native._compiler(), "-O0", "-shared", "-fPIC", str(_native._SOURCE), "-o"]
        + [str(other), "-lm"],
        check=True,
        capture_output=True,
    )
    return other.read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "other code"])
def test_a_damaged_or_replaced_library_is_built_again_before_loading(
    cache, tmp_path, damage
):
    library = _library(cache)
    built = library.read_bytes()
    if damage == "truncated":
        replacement = built[:4096]
    elif damage == "random bytes":
        replacement = os.urandom(len(built))
    else:
        replacement = _other_build(library, tmp_path)
        assert replacement != built
    _replace(library, replacement)
    assert _load_quietly() is not None
    assert library.read_bytes() == built


def test_a_missing_digest_rebuilds_the_library(cache):
    library = _library(cache)
    library.with_suffix(".sha256").unlink()
    assert _load_quietly() is not None
    assert library.with_suffix(".sha256").exists()
