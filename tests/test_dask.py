"""Grid search over task weights on a Dask cluster, through joblib's Dask backend."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sk_mtgru import SequenceScaler

from .conftest import small_classifier

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster_client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_grid_search_runs_on_a_dask_cluster_of_two_worker_processes(
    cluster_client, ragged_data
):
    import joblib
    import torch

    X, Y = ragged_data
    pipe = make_pipeline(SequenceScaler(), small_classifier(max_iter=2))
    grid = {"multitaskgruclassifier__task_weights": [(1, 1), (1, 3), (3, 1)]}
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X, Y)
    local = GridSearchCV(pipe, grid, cv=2).fit(X, Y)
    # Same folds, same seeds: the cluster computes what one process does.
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert search.predict(X).shape == (60, 2)

    def torch_threads():
        return torch.get_num_threads()

    threads = cluster_client.run(torch_threads)
    assert len(threads) == 2 and all(n == 1 for n in threads.values()), threads
