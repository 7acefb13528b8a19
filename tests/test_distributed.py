"""The data-parallel recipe of the user guide, smoke-tested with two CPU processes.

Each process trains the fitted estimator's module on its own shard with
DistributedDataParallel over the gloo backend, on loopback; gradients are averaged
across processes, so both end with the same weights.
"""

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from sk_mtgru.datasets import make_multitask_sequences

from .conftest import small_classifier

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_shard(rank, world_size, port, clf, X, Y, out):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        # The recipe: each process takes its shard and trains the shared module.
        X_shard = torch.as_tensor(X[rank::world_size], dtype=torch.float32)
        codes = np.column_stack(
            [
                np.searchsorted(c, Y[rank::world_size, k])
                for k, c in enumerate(clf.classes_)
            ]
        )
        y_shard = torch.as_tensor(codes)
        lengths = torch.full((len(X_shard),), X_shard.shape[1])
        model = DistributedDataParallel(clf.net_.module_)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        weights = clf.net_.task_weights
        model.train()
        for start in range(0, len(X_shard), 16):
            logits = model(X_shard[start : start + 16], lengths[start : start + 16])
            loss = sum(
                w * F.cross_entropy(z, y_shard[start : start + 16, k])
                for k, (w, z) in enumerate(zip(weights, logits))
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        flat = torch.cat([p.detach().flatten() for p in clf.net_.module_.parameters()])
        torch.save(flat, out / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_train_the_module_in_step(tmp_path):
    X, Y = make_multitask_sequences(64, n_tasks=2, length=10, random_state=0)
    clf = small_classifier(max_iter=1).fit(X, Y)
    before = torch.cat([p.detach().flatten() for p in clf.net_.module_.parameters()])
    mp.spawn(
        _train_shard,
        args=(2, _free_port(), clf, X, Y, tmp_path),
        nprocs=2,
        join=True,
    )
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    torch.testing.assert_close(rank0, rank1)
    assert not torch.allclose(rank0, before)
