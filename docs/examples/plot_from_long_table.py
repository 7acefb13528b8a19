"""
From a long table to a saved model
==================================

The whole path a newcomer walks with sensor data as it usually arrives: a long
table (one row per recording and time step) and a table of labels, turned into
sequences with :func:`~sk_mtgru.datasets.from_long`; a pipeline searched over
which tasks share an encoder, scored task by task; its learning curves and task
affinity drawn; and the model saved to a file that cannot run code.
"""

import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import sk_mtgru
from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler
from sk_mtgru.datasets import from_long, make_multitask_sequences
from sk_mtgru.metrics import task_scorer
from sk_mtgru.model_selection import MultiTaskStratifiedKFold, recommend_task_groups
from sk_mtgru.plotting import plot_learning_curves, plot_task_affinity

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# The data as it arrives: a long table of 3 sensors for 150 recordings, and a
# label table that misses a few recordings' labels.
X, Y = make_multitask_sequences(
    150,
    n_tasks=3,
    n_features=3,
    length=(15, 30),
    task_relatedness=0.3,
    random_state=0,
)
rows = [
    {"recording": f"rec{i:03d}", "t": t, "acc_x": a, "acc_y": b, "gyro": c}
    for i, x in enumerate(X)
    for t, (a, b, c) in enumerate(x)
]
long = pd.DataFrame(rows)
labels = pd.DataFrame(
    {
        "recording": [f"rec{i:03d}" for i in range(150)],
        "exercise": np.array(["squat", "lunge", "plank"])[Y[:, 0]],
        "side": np.array(["left", "right", "both"])[Y[:, 1]],
        "intensity": np.array(["low", "mid", "high"])[Y[:, 2]],
    }
).drop(index=[5, 17, 60])
print(long.head())

# %%
# One sequence per recording, the labels aligned to them (a recording without a
# label row gets missing labels, which train nothing).
data = from_long(long, id="recording", time="t", labels=labels)
print(len(data.X), "recordings;", data.y.isna().any(axis=1).sum(), "unlabelled")

# %%
# Which tasks should share an encoder? The warm-up that ``task_groups='auto'``
# runs answers without fitting the model.
model = make_pipeline(
    SequenceScaler(),
    MultiTaskGRUClassifier(hidden_size=8, max_iter=12, random_state=0),
)
recommendation = recommend_task_groups(model, data.X, data.y)
print("recommended groups:", recommendation.groups)
plot_task_affinity(recommendation)

# %%
# A grid search compares one shared encoder with the recommended groups, each
# task scored with its own metric, in folds that keep every task's classes in
# proportion (an integer ``cv`` would give unshuffled ``KFold``).
scoring = {
    name: task_scorer(name, "balanced_accuracy")
    for name in ("exercise", "side", "intensity")
}
search = GridSearchCV(
    model,
    {"multitaskgruclassifier__task_groups": [None, recommendation.groups]},
    scoring=scoring,
    refit="exercise",
    cv=MultiTaskStratifiedKFold(n_splits=2, shuffle=True, random_state=0),
).fit(data.X, data.y)
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_exercise"]
):
    print(params, f"exercise {score:.3f}")

# %%
# The refitted model's learning curves, task by task.
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
plot_learning_curves(search.best_estimator_, metric="acc", ax=ax)
plt.show()

# %%
# Save the whole pipeline (the scaling with the model), load it back, and
# predict: the feature columns are checked by name, as in scikit-learn.
path = os.path.join(tempfile.mkdtemp(), "model.skmtgru")
sk_mtgru.save(search.best_estimator_, path)
loaded = sk_mtgru.load(path)
print(loaded.feature_names_in_, loaded.predict(data.X[:3]))
