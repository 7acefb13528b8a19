"""Convert seglearn's watch data set into the compact copy bundled with sk_mtgru.

Run once, by a maintainer, when the bundled copy must be rebuilt::

    pip download --no-deps seglearn==1.2.5 -d /tmp/seglearn
    (cd /tmp/seglearn && unzip seglearn-1.2.5-py3-none-any.whl 'seglearn/data/*')
    python tools/vendor_watch.py /tmp/seglearn/seglearn/data/watch_dataset.npy

The original is a pickled dict (hence ``allow_pickle=True``, here only). The copy is
a compressed ``.npz`` of plain arrays, loaded with ``allow_pickle=False``: every
recording's float32 values concatenated, their lengths, and the three label columns.
"""

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "sk_mtgru" / "datasets" / "data"


def main(source: str) -> None:
    data = np.load(source, allow_pickle=True).item()
    recordings = [np.asarray(x, dtype=np.float64) for x in data["X"]]
    assert all(x.ndim == 2 and x.shape[1] == 6 for x in recordings)
    values = np.concatenate(recordings).astype(np.float32)
    lengths = np.array([len(x) for x in recordings], dtype=np.int64)
    side = np.asarray(data["side"])
    assert set(np.unique(side)) <= {0.0, 1.0}
    np.savez_compressed(
        OUT / "watch.npz",
        values=values,
        lengths=lengths,
        exercise=np.asarray(data["y"], dtype=np.int64),
        subject=np.asarray(data["subject"], dtype=np.int64),
        side=side.astype(np.int64),
        exercise_codes=np.array(data["y_labels"], dtype="U8"),
        feature_names=np.array(data["X_labels"], dtype="U8"),
    )
    error = max(
        np.abs(x - values[s - n : s]).max() / np.abs(x).max()
        for x, n, s in zip(recordings, lengths, np.cumsum(lengths))
    )
    size = (OUT / "watch.npz").stat().st_size
    print(f"{len(recordings)} recordings, {len(values)} steps, {size / 1e6:.1f} MB")
    print(f"largest relative error of the float32 copy: {error:.1e}")


if __name__ == "__main__":
    main(sys.argv[1])
