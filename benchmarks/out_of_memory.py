"""Peak memory of ``fit`` on a memmap, as the memmap grows.

For each size, a fresh process writes a float64 memmap of sequences to a temporary
folder, opens it read-only, and fits one epoch on it while a thread samples the
process's anonymous resident memory (RssAnon: heap, not the file's pages, which the
kernel can drop at will). If ``fit`` read the memmap into memory, the peak would grow
with the file; it stays flat, at a few batches' worth.

Run: ``python benchmarks/out_of_memory.py`` (about two minutes on 2 cores; writes up
to 600 MB to the temporary folder, and removes it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LENGTH, N_FEATURES = 100, 16
SIZES = [12_000, 24_000, 48_000]  # sequences: 154, 307 and 614 MB as float64


def _rss_anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def run_case(n: int, folder: str) -> dict:
    import numpy as np

    from sk_mtgru import MultiTaskGRUClassifier

    path = Path(folder) / f"X_{n}.npy"
    X = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float64, shape=(n, LENGTH, N_FEATURES)
    )
    rng = np.random.default_rng(0)
    for start in range(0, n, 2000):
        X[start : start + 2000] = rng.normal(
            size=(min(2000, n - start), LENGTH, N_FEATURES)
        )
    X.flush()
    del X
    X = np.load(path, mmap_mode="r")
    Y = np.column_stack([np.arange(n) % 3, np.arange(n) % 5])
    params = dict(hidden_size=16, max_iter=1, batch_size=64, random_state=0)
    MultiTaskGRUClassifier(**params).fit(X[:100], Y[:100])  # one-off costs
    baseline = _rss_anon_mb()
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_anon_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    MultiTaskGRUClassifier(**params).fit(X, Y)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return {
        "n": n,
        "file_MB": path.stat().st_size / 1e6,
        "peak_anon_growth_MB": peak - baseline,
        "epoch_s": seconds,
    }


def main() -> None:
    if len(sys.argv) > 1:
        print(json.dumps(run_case(int(sys.argv[1]), sys.argv[2])))
        return
    print(
        f"{'sequences':>10} {'memmap on disk':>15} {'fit: peak heap growth':>22} "
        f"{'epoch':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for n in SIZES:
            out = subprocess.run(
                [sys.executable, __file__, str(n), folder],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{r['n']:>10} {r['file_MB']:>12.0f} MB "
                f"{r['peak_anon_growth_MB']:>19.1f} MB {r['epoch_s']:>7.1f}s"
            )
            Path(folder, f"X_{n}.npy").unlink()


if __name__ == "__main__":
    main()
