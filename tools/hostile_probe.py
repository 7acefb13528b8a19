"""Hostile and careless inputs against files, the kernel cache, continued fits,
streaming and ONNX graphs: each case's outcome, one line each.

Each case runs in its own process, so that a crash (a bus error, an abort) is an
outcome like any other. Run it against any checkout of the package to compare two
versions::

    python tools/hostile_probe.py                 # this checkout
    python tools/hostile_probe.py --package DIR   # the sk_mtgru found in DIR

A line reads ``case: outcome``; "refused" means a clear ValueError, TypeError or
warning, "SILENT" a wrong result given without one, "CRASH" a process killed by a
signal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.exceptions import ConvergenceWarning

import sk_mtgru
from sk_mtgru import _native

try:
    from sk_mtgru._io._format import digest as _digest
except ImportError:  # releases before the _io package
    from sk_mtgru._persistence import _digest  # type: ignore[no-redef]
from sk_mtgru._net import MultiTaskNet
from sk_mtgru.datasets import make_multitask_sequences

CASES: dict = {}


def case(function):
    CASES[function.__name__] = function
    return function


def _small(kind="classifier", **params):
    make = {
        "classifier": sk_mtgru.MultiTaskGRUClassifier,
        "regressor": sk_mtgru.MultiTaskGRURegressor,
        "tagger": sk_mtgru.MultiTaskGRUTagger,
    }[kind]
    defaults = dict(hidden_size=6, max_iter=2, batch_size=8, random_state=0)
    if kind != "tagger":
        defaults["conv_channels"] = 4
    return make(**(defaults | params))


def _data(n=40, per_step=False):
    return make_multitask_sequences(
        n, n_tasks=2, length=(6, 14), per_step=per_step, random_state=0
    )


def _refused(call, *, errors=(ValueError, TypeError)):
    try:
        result = call()
    except errors as exc:
        return f"refused ({type(exc).__name__}: {str(exc)[:90]})", None
    return None, result


# ------------------------------------------------------------- kernel cache
def _cache_with_library(tmp):
    os.environ["SK_MTGRU_CACHE"] = str(tmp / "cache")
    if _native._load() is None:
        return None
    return next((tmp / "cache").glob("gru_loops-*.so"))


def _replace(path, data):
    """Write ``data`` as a new file at ``path`` (this process has the library
    mapped: writing into it would kill this process, not the one probed)."""
    partial = path.with_name("partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _fresh_load():
    """The library loaded in a new process, and whether its loops agree with the
    Python loops on a batch."""
    code = textwrap.dedent(
        """
        import warnings, torch
        from unittest import mock
        warnings.simplefilter("always")
        import sk_mtgru._gru as g
        from sk_mtgru import _native
        with warnings.catch_warnings(record=True) as seen:
            lib = _native.native_loops()
        print("loaded" if lib is not None else "python loops",
              "; warned" if seen else "")
        if lib is not None:
            torch.manual_seed(0)
            gru = torch.nn.GRU(3, 8, batch_first=True)
            x, n = torch.randn(4, 9, 3), torch.full((4,), 9)
            a = g.run_gru(gru, x, n, "sk_mtgru")[0]
            with mock.patch.object(g, "native_loops", lambda: None):
                b = g.run_gru(gru, x, n, "sk_mtgru")[0]
            gap = float((a - b).abs().max())
            print("agrees with the Python loops" if gap < 1e-4 else
                  f"SILENT: differs from the Python loops by {gap:.2g}")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ
    )
    if result.returncode < 0:
        return f"CRASH (signal {-result.returncode})"
    if result.returncode:
        return "error: " + " ".join(result.stderr.split())[-110:]
    return " ".join(result.stdout.split())


@case
def cache_planted_library_in_a_shared_folder(tmp):
    library = _cache_with_library(tmp)
    if library is None:
        return "no compiler here"
    marker = tmp / "planted-ran"
    source = tmp / "planted.c"
    source.write_text(
        "#include <stdio.h>\n__attribute__((constructor)) static void p(void){"
        f'FILE*f=fopen("{marker}","w");if(f){{fputs("x",f);fclose(f);}}}}\n'
        "int sk_mtgru_abi(void){return 2;}\n"
    )
    subprocess.run(["cc", "-shared", "-fPIC", str(source), "-o", str(library)])
    digest = library.with_suffix(".sha256")
    if digest.exists():  # the planter records a matching digest too
        digest.write_text(hashlib.sha256(library.read_bytes()).hexdigest())
    os.chmod(library.parent, 0o777)
    outcome = _fresh_load()
    ran = "PLANTED CODE RAN" if marker.exists() else "planted code did not run"
    return f"{ran}; {outcome}"


@case
def cache_library_truncated(tmp):
    library = _cache_with_library(tmp)
    if library is None:
        return "no compiler here"
    _replace(library, library.read_bytes()[:4096])
    return _fresh_load()


@case
def cache_library_random_bytes(tmp):
    library = _cache_with_library(tmp)
    if library is None:
        return "no compiler here"
    _replace(library, os.urandom(library.stat().st_size))
    outcome = _fresh_load()
    rebuilt = _cache_with_library(tmp).read_bytes()[:4] == b"\x7fELF"
    return f"{outcome}; {'rebuilt' if rebuilt else 'NOT REBUILT'}"


@case
def cache_library_with_wrong_code(tmp):
    library = _cache_with_library(tmp)
    if library is None:
        return "no compiler here"
    source = tmp / "wrong.c"
    source.write_text(
        _native._SOURCE.read_text()
        .replace("float keep = 1.0f - z;", "float keep;")
        .replace("2.0f * sigmoid(2.0f *", "2.0f * sigmoid(2.5f *")
    )
    subprocess.run(
        ["cc", "-O2", "-shared", "-fPIC", str(source), "-o", str(library), "-lm"]
    )
    return _fresh_load()


# ------------------------------------------------------------- continued fits
def _weights(estimator):
    return {k: v.clone() for k, v in estimator.net_.module_.state_dict().items()}


def _changed(before, after):
    return max(float((before[k] - after[k]).abs().max()) for k in before)


@case
def partial_fit_diverging_chunk(tmp):
    X, Y = _data()
    clf = _small().partial_fit(X, Y)
    before, epochs = _weights(clf), len(clf.history_)
    X_bad = [x.copy() for x in X]
    X_bad[0] *= 1e30  # its statistics overflow float32: the loss turns NaN
    error, _ = _refused(lambda: clf.partial_fit(X_bad, Y))
    moved = _changed(before, _weights(clf))
    half = "HALF-DONE" if moved or len(clf.history_) != epochs else "as before"
    return (
        f"{error}; weights moved by {moved:.2g}, history {len(clf.history_)} "
        f"epochs (was {epochs}): {half}"
    )


@case
def warm_start_diverging_fit(tmp):
    X, Y = _data()
    clf = _small(warm_start=True).fit(X, Y)
    before, epochs = _weights(clf), len(clf.history_)
    clf.set_params(learning_rate_init=1e37)
    error, _ = _refused(lambda: clf.fit(X, Y))
    moved = _changed(before, _weights(clf))
    state = "HALF-DONE" if moved or len(clf.history_) != epochs else "as before"
    return f"{error}; history {len(clf.history_)} epochs (was {epochs}): {state}"


def _interrupting(after_calls):
    original = MultiTaskNet.train_step
    calls = {"n": 0}

    def step(self, batch, **fit_params):
        calls["n"] += 1
        if calls["n"] == after_calls:
            raise KeyboardInterrupt
        return original(self, batch, **fit_params)

    MultiTaskNet.train_step = step


@case
def fit_interrupted_in_its_third_epoch(tmp):
    X, Y = _data()
    _interrupting(13)  # 5 batches an epoch
    clf = _small(max_iter=10).fit(X, Y)
    return f"n_iter_={clf.n_iter_}, history {len(clf.history_)} epochs (2 completed)"


@case
def fit_with_max_iter_1_interrupted(tmp):
    X, Y = _data()
    _interrupting(2)
    try:
        clf = _small(max_iter=1).fit(X, Y)
    except KeyError as exc:
        return f"CRASH-LIKE: KeyError {exc}"
    return f"n_iter_={clf.n_iter_} (0 completed)"


@case
def partial_fit_interrupted(tmp):
    X, Y = _data()
    clf = _small().partial_fit(X, Y)
    before, epochs = _weights(clf), len(clf.history_)
    _interrupting(2)
    try:
        clf.partial_fit(X, Y)
        raised = "returned (the loop over chunks goes on)"
    except KeyboardInterrupt:
        raised = "KeyboardInterrupt raised"
    moved = _changed(before, _weights(clf))
    state = "HALF-DONE" if moved or len(clf.history_) != epochs else "as before"
    return f"{raised}; {state}"


@case
def max_iter_1_warns(tmp):
    X, Y = _data(300)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _small(max_iter=1).fit(X, Y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in seen)
    return "ConvergenceWarning" if warned else "SILENT: no warning"


@case
def score_with_string_labels_on_integer_model(tmp):
    X, Y = _data()
    clf = _small().fit(X, Y)
    error, score = _refused(lambda: clf.score(X, Y.astype(str)))
    return error or f"SILENT: score {score}"


# ------------------------------------------------------------------ streaming
@case
def streaming_huge_values(tmp):
    X, Y = _data()
    clf = _small().fit(X, Y)
    outcomes = []
    for value in (1e300, 1e30):
        stream = sk_mtgru.StreamingPredictor(clf)
        stream.update(X[0][:4])
        chunk = np.full((3, 4), value)
        error, labels = _refused(lambda s=stream, c=chunk: s.update(c))
        if error is None:
            proba = stream.predict_proba()[0]
            outcomes.append(f"{value:g}: SILENT {labels} {np.round(proba, 3)}")
        else:
            outcomes.append(
                f"{value:g}: {error[:60]}; steps seen {stream.n_steps_seen_}"
            )
    return " | ".join(outcomes)


@case
def streaming_from_two_threads(tmp):
    X, Y = _data()
    clf = _small(conv_layers=0).fit(X, Y)
    stream = sk_mtgru.StreamingPredictor(clf)
    step = X[0][:1]
    sys.setswitchinterval(1e-6)

    def feed():
        for _ in range(200):
            stream.update(step)

    threads = [threading.Thread(target=feed) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    reached = stream._state.n_steps
    lost = "SILENT: steps lost" if reached != 400 else "no step lost"
    return f"{reached} of 400 steps reached the GRU: {lost}"


# ----------------------------------------------------------------------- ONNX
def _onnx(tmp, kind, **params):
    X, Y = _data(per_step=kind == "tagger")
    model = _small(kind, **params).fit(X, Y)
    path = tmp / "m.onnx"
    sk_mtgru.to_onnx(model, path)
    return ort.InferenceSession(str(path)), X


def _onnx_cases(tmp, kind, **params):
    session, X = _onnx(tmp, kind, **params)
    x = np.zeros((3, 10, 4), np.float32)
    for i in range(3):
        x[i, :6] = X[i][:6]
    outcomes = []
    for label, lengths, batch in [
        ("length 0", [0, 6, 6], x),
        ("length -2", [-2, 6, 6], x),
        ("length > steps", [40, 6, 6], x),
        (
            "NaN padding",
            [6, 6, 6],
            np.where(np.arange(10)[None, :, None] >= 6, np.nan, x).astype(np.float32),
        ),
        ("0 steps", [0, 0, 0], x[:, :0]),
    ]:
        code = textwrap.dedent(
            f"""
            import numpy as np, onnxruntime as ort
            s = ort.InferenceSession({str(tmp / "m.onnx")!r})
            batch = np.load({str(tmp / "batch.npy")!r})
            out = s.run(None, {{"x": batch, "lengths": np.array({lengths})}})
            first = out[0][0] if out[0].ndim == 2 else out[0][0, :1]
            print("finite" if all(np.isfinite(o).all() for o in out) else "NaN")
            """
        )
        np.save(tmp / "batch.npy", batch)
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True
        )
        if result.returncode < 0:
            outcomes.append(f"{label}: CRASH (signal {-result.returncode})")
        elif result.returncode:
            outcomes.append(f"{label}: error")
        else:
            outcomes.append(f"{label}: {result.stdout.strip()}")
    return "; ".join(outcomes)


@case
def onnx_defaults(tmp):
    return _onnx_cases(tmp, "classifier")


@case
def onnx_last_without_convolutions(tmp):
    return _onnx_cases(tmp, "classifier", summary="last", conv_layers=0)


@case
def onnx_tagger(tmp):
    return _onnx_cases(tmp, "tagger")


# ------------------------------------------------------------------ safe files
def _saved(tmp, kind="classifier", y=None):
    X, Y = _data(per_step=kind == "tagger")
    model = _small(kind).fit(X, Y if y is None else y(X, Y))
    path = tmp / "m.safetensors"
    model.save(path)
    return model, path, X


def _craft(path, edit, *, sign=True):
    with safe_open(str(path), framework="pt") as f:
        document = json.loads(f.metadata()["sk_mtgru"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors = edit(document, tensors) or tensors
    if sign and "sha256" in document:
        document["sha256"] = _digest(json.loads(json.dumps(document)), tensors)
    save_file(tensors, str(path), metadata={"sk_mtgru": json.dumps(document)})


def _load_and_predict(model, path, X):
    error, loaded = _refused(lambda: sk_mtgru.load(path))
    if error:
        return error
    error, predicted = _refused(lambda: loaded.predict(X))
    if error:
        return f"LOADED, then predict failed ({error})"
    same = np.array_equal(np.asarray(predicted), np.asarray(model.predict(X)))
    return "loaded, same predictions" if same else "SILENT: loaded, predicts otherwise"


def _file_case(edit, sign=True, kind="classifier", y=None):
    def run(tmp):
        model, path, X = _saved(tmp, kind, y)
        _craft(path, edit, sign=sign)
        return _load_and_predict(model, path, X)

    return run


def _classes(d, k):
    return d["fitted"]["classes"][k]


FILE_CASES = {
    "file_duplicate_task_names": _file_case(
        lambda d, t: d["fitted"].update(task_names=["a", "a"])
    ),
    "file_classes_duplicated": _file_case(
        lambda d, t: _classes(d, 1).update(values=[0, 0, 2])
    ),
    "file_classes_unsorted": _file_case(
        lambda d, t: _classes(d, 1).update(values=[2, 1, 0])
    ),
    "file_classes_nan": _file_case(
        lambda d, t: _classes(d, 1).update(dtype="<f8", values=[0.0, 1.0, float("nan")])
    ),
    "file_classes_truncated_strings": _file_case(
        lambda d, t: _classes(d, 0).update(dtype="<U1"),
        y=lambda X, Y: Y.astype(str).astype(object) + "0",
    ),
    "file_class_label_2_to_the_70": _file_case(
        lambda d, t: _classes(d, 1).update(values=[0, 1, 2**70])
    ),
    "file_crop_length_edited": _file_case(
        lambda d, t: d["params"].update(crop_length=5), sign=False
    ),
    "file_crop_length_edited_and_signed": _file_case(
        lambda d, t: d["params"].update(crop_length=5)
    ),
    "file_device_meta": _file_case(lambda d, t: d["params"].update(device="meta")),
    "file_batch_size_10_to_the_30": _file_case(
        lambda d, t: d["params"].update(batch_size=10**30)
    ),
    "file_negative_width_2d": _file_case(lambda d, t: d["fitted"].update(width_2d=-3)),
    "file_negative_n_iter": _file_case(lambda d, t: d["fitted"].update(n_iter=-5)),
    "file_regression_scale_1e308": _file_case(
        lambda d, t: d["fitted"]["targets"].update(scale=[1e308, 1e308]),
        kind="regressor",
        y=lambda X, Y: Y.astype(float),
    ),
    "file_history_of_4_million_epochs": _file_case(
        lambda d, t: d["fitted"].update(history=[{}] * 4_000_000)
    ),
    "file_200000_extra_tensors": _file_case(
        lambda d, t: t | {f"x{i}": torch.zeros(0) for i in range(200_000)}
    ),
}
for _name, _run in FILE_CASES.items():
    _run.__name__ = _name
    case(_run)


@case
def file_100_bit_flips_in_the_weights(tmp):
    model, path, X = _saved(tmp)
    data = path.read_bytes()
    header = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(0)
    counts: dict[str, int] = {}
    for _ in range(100):
        flipped = bytearray(data)
        position = int(rng.integers(header, len(data)))
        flipped[position] ^= 1 << int(rng.integers(8))
        path.write_bytes(flipped)
        outcome = _load_and_predict(model, path, X).split(" (")[0]
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{n}× {outcome}" for outcome, n in sorted(counts.items()))


# ---------------------------------------------------------------------- runner
def _run_one(name: str, package: str | None) -> str:
    env = dict(os.environ)
    if package:
        env["PYTHONPATH"] = package + os.pathsep + env.get("PYTHONPATH", "")
    code = (
        "import sys, tempfile, pathlib, warnings\n"
        "warnings.simplefilter('ignore')\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import hostile_probe\n"
        "tmp = pathlib.Path(tempfile.mkdtemp())\n"
        f"print(hostile_probe.CASES[{name!r}](tmp))\n"
    )
    env["SK_MTGRU_CACHE"] = tempfile.mkdtemp()
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=tempfile.mkdtemp(),  # not a checkout: its sk_mtgru would come first
        )
    except subprocess.TimeoutExpired:
        return "HANG (over 300 s)"
    if result.returncode < 0:
        return f"CRASH (signal {-result.returncode})"
    if result.returncode:
        return "error: " + " ".join(result.stderr.strip().splitlines()[-1:])[:160]
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", help="a folder holding the sk_mtgru to probe")
    parser.add_argument("--case", action="append", help="run only these cases")
    args = parser.parse_args()
    for name in args.case or CASES:
        print(f"{name}: {_run_one(name, args.package)}", flush=True)


if __name__ == "__main__":
    main()
