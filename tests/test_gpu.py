"""Training and prediction on a CUDA device give what the CPU gives.

cuDNN's GRU kernels may compute in TF32, so GPU and CPU agree to about 1e-4, not
to float32's last bits. Every test here skips where torch sees no CUDA device (the
project's CI machines).
"""

import numpy as np
import pytest
import torch

from .conftest import small_classifier

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("data", ["dense_data", "ragged_data"])
def test_cuda_fit_predicts_like_the_same_model_on_cpu(data, request):
    X, Y = request.getfixturevalue(data)
    clf = small_classifier(device="cuda", bidirectional=True).fit(X, Y)
    assert next(clf.net_.module_.parameters()).is_cuda
    on_gpu = clf.predict_proba(X)
    clf.net_.module_.to("cpu")
    clf.net_.set_params(device="cpu")
    for gpu, cpu in zip(on_gpu, clf.predict_proba(X), strict=True):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-3)


def test_cuda_and_cpu_training_agree_on_the_loss_curve(dense_data):
    X, Y = dense_data
    losses = [
        small_classifier(device=device, max_iter=4).fit(X, Y).history_[:, "train_loss"]
        for device in ("cpu", "cuda")
    ]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-3)


@pytest.mark.parametrize(
    "balancing", ["uncertainty", "dwa", "rlw", "famo", "pcgrad", "gradnorm"]
)
def test_every_loss_balancing_trains_on_cuda(balancing, dense_data):
    X, Y = dense_data
    clf = small_classifier(device="cuda", loss_balancing=balancing).fit(X, Y)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    assert clf.score(X, Y) > 0


def test_cuda_handles_missing_labels_class_and_sample_weights(dense_data):
    X, Y = dense_data
    Y = Y.astype(float)
    Y[::4, 0] = np.nan
    weights = np.linspace(0.5, 1.5, len(X))
    clf = small_classifier(
        device="cuda", missing_label=np.nan, class_weight="balanced"
    ).fit(X, Y, sample_weight=weights)
    assert clf.predict(X).shape == Y.shape


def test_cuda_partial_fit_early_stopping_and_affinity(dense_data):
    X, Y = dense_data
    clf = small_classifier(device="cuda", early_stopping=True, task_affinity_interval=1)
    clf.fit(X, Y)
    assert clf.task_affinity_.shape == (2, 2)
    clf.partial_fit(X, Y)
    assert len(clf.history_) == 4  # three epochs of fit, one of partial_fit


def test_the_tagger_trains_and_predicts_on_cuda(ragged_data):
    from sk_mtgru import MultiTaskGRUTagger
    from sk_mtgru.datasets import make_multitask_sequences

    X, Y = make_multitask_sequences(
        30, n_tasks=2, length=(5, 15), per_step=True, random_state=0
    )
    tagger = MultiTaskGRUTagger(
        hidden_size=8,
        num_layers=2,
        supervision_layers=[0, 1],
        max_iter=2,
        loss_balancing="pcgrad",
        device="cuda",
        random_state=0,
    ).fit(X, Y)
    assert next(tagger.net_.module_.parameters()).is_cuda
    assert [p.shape for p in tagger.predict(X)] == [y.shape for y in Y]


@pytest.mark.parametrize("data", ["dense_data", "ragged_data"])
def test_the_package_gru_kernel_trains_on_cuda_like_cudnn(data, request):
    X, Y = request.getfixturevalue(data)
    losses = [
        small_classifier(device="cuda", bidirectional=True, gru_kernel=kernel)
        .fit(X, Y)
        .history_[:, "train_loss"]
        for kernel in ("torch", "sk_mtgru")
    ]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-3)
