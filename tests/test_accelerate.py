"""Data-parallel training through Hugging Face Accelerate: two CPU processes over
gloo end with the same model, which predicts like a fit in one process."""

import os
import pickle
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.base import clone

import sk_mtgru

accelerate = pytest.importorskip("accelerate")
pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)

PARAMS = dict(
    hidden_size=8,
    conv_channels=8,
    max_iter=40,
    task_affinity_interval=None,
    random_state=0,
)


def _recordings():
    """Two learnable tasks: the sign of one channel's mean, the loudest channel."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 12, 3)).astype(np.float32)
    means = X.mean(axis=1)
    Y = np.column_stack([(means[:, 0] > 0).astype(int), means.argmax(axis=1)])
    return X, Y


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fit_in_process(rank, port, out):
    # What `accelerate launch` / torchrun set for each process.
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="2",
    )
    torch.set_num_threads(1)
    X, Y = _recordings()
    # Both stopping rules in one pair of processes (starting two costs seconds).
    for early_stopping in EARLY_STOPPING:
        accelerator = accelerate.Accelerator(cpu=True)
        assert accelerator.num_processes == 2
        clf = sk_mtgru.MultiTaskGRUClassifier(
            batch_size=8,
            accelerator=accelerator,
            early_stopping=early_stopping,
            **PARAMS,
        ).fit(X, Y)
        run = out / str(early_stopping)
        run.mkdir(exist_ok=True)
        torch.save(clf.net_.module_.state_dict(), run / f"weights{rank}.pt")
        np.save(run / f"proba{rank}.npy", np.concatenate(clf.predict_proba(X), axis=1))
        np.save(run / f"epochs{rank}.npy", clf.history_[:, "train_objective"])
    dist.destroy_process_group()


EARLY_STOPPING = (False, True)


def test_two_gloo_processes_end_with_one_model_like_a_single_process_fit(tmp_path):
    # one pair of processes fits with each stopping rule (starting them costs
    # seconds); each rule's fits are checked on their own
    mp.spawn(_fit_in_process, args=(_free_port(), tmp_path), nprocs=2, join=True)
    X, Y = _recordings()
    for early_stopping in EARLY_STOPPING:
        run = tmp_path / str(early_stopping)
        weights = [torch.load(run / f"weights{r}.pt") for r in range(2)]
        assert weights[0].keys() == weights[1].keys()
        for key in weights[0]:  # identical, not merely close
            assert torch.equal(weights[0][key], weights[1][key]), (early_stopping, key)
        # both processes stopped at the same epoch, on the same averaged objective
        np.testing.assert_array_equal(
            np.load(run / "epochs0.npy"), np.load(run / "epochs1.npy")
        )
        # Two processes of batch 8 step on batches of 16 in all: so does the
        # single-process fit; the batches differ, the converged models agree
        # within tolerance.
        single = sk_mtgru.MultiTaskGRUClassifier(
            batch_size=16, early_stopping=early_stopping, **PARAMS
        ).fit(X, Y)
        distributed = np.load(run / "proba0.npy")
        proba = np.concatenate(single.predict_proba(X), axis=1)
        labels = [distributed[:, :2].argmax(1), distributed[:, 2:].argmax(1)]
        expected = (proba[:, :2].argmax(1), proba[:, 2:].argmax(1))
        for k, agreed in enumerate(expected):
            assert np.mean(labels[k] == agreed) >= 0.9, early_stopping
            assert np.mean(labels[k] == Y[:, k]) >= np.mean(agreed == Y[:, k]) - 0.1, (
                early_stopping
            )
        assert np.abs(distributed - proba).mean() < 0.06, early_stopping


def test_one_process_with_an_accelerator_fits_as_without(tmp_path):
    X, Y = _recordings()
    accelerator = accelerate.Accelerator(cpu=True)
    with_it = sk_mtgru.MultiTaskGRUClassifier(accelerator=accelerator, **PARAMS)
    without = sk_mtgru.MultiTaskGRUClassifier(**PARAMS)
    with_it.fit(X, Y)
    for a, b in zip(with_it.predict_proba(X), without.fit(X, Y).predict_proba(X)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert type(with_it.net_.module_).__name__ == "MultiTaskGRU"  # unwrapped
    # the fitted estimator clones, pickles, and saves without its accelerator
    assert clone(with_it).accelerator is accelerator
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(with_it)).predict(X), with_it.predict(X)
    )
    with pytest.warns(UserWarning, match="accelerator is not saved"):
        with_it.save(tmp_path / "m.safetensors")
    assert sk_mtgru.load(tmp_path / "m.safetensors").accelerator is None


def test_what_does_not_combine_with_an_accelerator_says_so():
    X, Y = _recordings()
    accelerator = accelerate.Accelerator(cpu=True)
    clf = sk_mtgru.MultiTaskGRUClassifier(
        accelerator=accelerator, max_iter=1, task_affinity_interval=10
    )
    with pytest.raises(ValueError, match="task_affinity_interval=None"):
        clf.fit(X, Y)
    clf.set_params(task_affinity_interval=None, loss_balancing="gradnorm")
    with pytest.raises(ValueError, match="gradient-based loss_balancing"):
        clf.fit(X, Y)
    clf.set_params(loss_balancing=None)
    with pytest.raises(ValueError, match="partial_fit and warm_start"):
        clf.partial_fit(X, Y)
    with pytest.raises(ValueError, match="per_task"):
        clf.set_params(early_stopping="per_task").fit(X, Y)
    with pytest.raises(ValueError, match="accelerator"):
        sk_mtgru.MultiTaskGRUClassifier(accelerator="cuda").fit(X, Y)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_precision_on_a_gpu_trains_and_predicts_on_the_cpu_after_saving(
    tmp_path,
):
    X, Y = _recordings()
    accelerator = accelerate.Accelerator(mixed_precision="bf16")
    clf = sk_mtgru.MultiTaskGRUClassifier(accelerator=accelerator, **PARAMS).fit(X, Y)
    assert next(clf.net_.module_.parameters()).device.type == "cuda"
    assert np.isfinite(np.concatenate(clf.predict_proba(X), axis=1)).all()
    with pytest.warns(UserWarning, match="accelerator is not saved"):
        clf.save(tmp_path / "m.safetensors")
    loaded = sk_mtgru.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
