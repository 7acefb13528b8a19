"""
Searching the task weights in a pipeline
========================================

The training loss is a weighted sum of the tasks' losses. Which weights serve best
depends on the data, so they are a hyper-parameter: search them with
:class:`~sklearn.model_selection.GridSearchCV` like any other, here inside a
pipeline that scales the sequences first. ``n_jobs=2`` fits two candidates at a
time; each worker gets its share of the CPU's threads.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.metrics import task_accuracy_scorer
from sk_mtgru.model_selection import MultiTaskStratifiedKFold, task_weight_grid

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, Y = make_multitask_sequences(
    400, n_tasks=2, n_classes=[3, 4], length=25, noise=0.4, random_state=1
)
pipe = make_pipeline(
    SequenceScaler(),
    MultiTaskGRUClassifier(
        hidden_size=16, max_iter=10, learning_rate_init=3e-3, random_state=0
    ),
)

# %%
# :func:`~sk_mtgru.model_selection.task_weight_grid` spreads candidate weightings
# evenly over the simplex. Scoring with one scorer per task shows what each
# weighting does to each task; ``refit="score"`` keeps the best mean. An integer
# ``cv`` would give a 2-D ``Y`` unshuffled ``KFold``:
# :class:`~sk_mtgru.model_selection.MultiTaskStratifiedKFold` keeps every task's
# classes in proportion in each fold, and shuffles.
weights = task_weight_grid(2, resolution=6)
print(weights)
search = GridSearchCV(
    pipe,
    {"multitaskgruclassifier__task_weights": weights},
    scoring={
        "score": None,
        "task_0": task_accuracy_scorer(0),
        "task_1": task_accuracy_scorer(1),
    },
    refit="score",
    cv=MultiTaskStratifiedKFold(3, shuffle=True, random_state=0),
    n_jobs=2,
).fit(X, Y)
print("best:", search.best_params_)

# %%
# The weight on task 0 against each task's cross-validated accuracy.
share = np.array([w[0] / sum(w) for w in weights])
order = np.argsort(share)
fig, ax = plt.subplots(figsize=(5, 3))
for task in ("task_0", "task_1"):
    scores = search.cv_results_[f"mean_test_{task}"]
    ax.plot(share[order], scores[order], "o-", label=task)
ax.set(xlabel="share of the loss weight on task_0", ylabel="CV accuracy")
ax.legend()
plt.show()
