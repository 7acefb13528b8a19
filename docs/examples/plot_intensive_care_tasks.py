"""
Tasks of every kind: an intensive-care benchmark
================================================

The intensive-care benchmark built on MIMIC-III asks four questions of each stay:
will the patient die in hospital (binary), which phenotype is it (several
classes), how long will the stay last (a number), and, hour by hour, is the
patient decompensating (a label per step). One encoder can serve them all.
:func:`~sk_mtgru.datasets.make_intensive_care_stays` generates stays with that
structure -- hourly vital signs, stays of 12 to 72 hours -- in which a hidden
severity drives mortality, the length of stay and the decompensations.

Here :class:`~sk_mtgru.MultiTaskGRUEstimator` learns the three tasks of whole
stays at once, each with its own head and loss, beside one single-task model
per task; a search shows that the weights of losses of different kinds matter;
and :class:`~sk_mtgru.MultiTaskGRUTagger` learns the hourly task.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.model_selection import GridSearchCV

from sk_mtgru import (
    MultiTaskGRUClassifier,
    MultiTaskGRUEstimator,
    MultiTaskGRURegressor,
    MultiTaskGRUTagger,
)
from sk_mtgru.datasets import make_intensive_care_stays
from sk_mtgru.metrics import task_scorer
from sk_mtgru.model_selection import MultiTaskStratifiedKFold

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

stays = make_intensive_care_stays(400, random_state=0)
Y = pd.DataFrame(stays.target, columns=stays.target_names).astype(
    {"mortality": int, "length_of_stay": float}
)
train, test = np.arange(300), np.arange(300, 400)
X_train = [stays.data[i] for i in train]
X_test = [stays.data[i] for i in test]
print(Y.head())

# %%
# One model, three kinds of task
# ------------------------------
# The task kinds are inferred from the columns (numbers that are not integers
# are a regression task) or given with ``task_types``. ``predict`` returns each
# task in its own type; ``predict_proba`` the classification tasks'.
params = dict(hidden_size=24, max_iter=30, random_state=0)
model = MultiTaskGRUEstimator(**params).fit(X_train, Y.iloc[train])
print(model.task_types_)


def report(mortality_proba, phenotype, length_of_stay):
    """Each task in its own metric, on the test stays."""
    truth = Y.iloc[test]
    return {
        "mortality ROC AUC": roc_auc_score(truth["mortality"], mortality_proba),
        "phenotype balanced accuracy": balanced_accuracy_score(
            truth["phenotype"], phenotype
        ),
        "length of stay MAE (hours)": mean_absolute_error(
            truth["length_of_stay"], length_of_stay
        ),
    }


predicted = model.predict(X_test)
results = {
    "multi-task": report(
        model.predict_proba(X_test)["mortality"][:, 1],
        predicted["phenotype"],
        predicted["length_of_stay"],
    )
}

# %%
# Beside one model per task
# -------------------------
mortality = MultiTaskGRUClassifier(**params).fit(X_train, Y["mortality"].iloc[train])
phenotype = MultiTaskGRUClassifier(**params).fit(X_train, Y["phenotype"].iloc[train])
length = MultiTaskGRURegressor(**params).fit(X_train, Y["length_of_stay"].iloc[train])
results["single-task"] = report(
    mortality.predict_proba(X_test)[:, 1],
    phenotype.predict(X_test),
    length.predict(X_test),
)
print(pd.DataFrame(results).round(3))

# %%
# Weighing losses of different kinds
# ----------------------------------
# A cross-entropy and a squared error on standardised values live on different
# scales, and the tasks compete for one encoder: the weights are worth
# searching. With tasks of several kinds there is no single ``score``, so the
# search scores each task in its own metric and ``refit`` names the one that
# chooses; uncertainty weighting, which learns a weight per task, is one more
# candidate. The folds keep the phenotypes in proportion.
scoring = {
    "mortality": task_scorer("mortality", "roc_auc"),
    "phenotype": task_scorer("phenotype", "balanced_accuracy"),
    "length_of_stay": task_scorer("length_of_stay", "neg_mean_absolute_error"),
}
grid = [
    {"task_weights": [None, {"mortality": 3}, {"length_of_stay": 3}]},
    {"loss_balancing": ["uncertainty"]},
]
search = GridSearchCV(
    MultiTaskGRUEstimator(**params),
    grid,
    scoring=scoring,
    refit="mortality",
    cv=MultiTaskStratifiedKFold(2, task="phenotype", shuffle=True, random_state=0),
    n_jobs=2,
).fit(X_train, Y.iloc[train])
columns = [f"mean_test_{name}" for name in scoring]
table = pd.DataFrame(search.cv_results_)[["params", *columns]]
print(table.round(3).to_string())

# %%
# The hourly task
# ---------------
# Decompensation is labelled every hour. A causal tagger (``bidirectional=False``)
# reads each hour with the hours before it only, as it would at the bedside.
tagger = MultiTaskGRUTagger(hidden_size=24, bidirectional=False, max_iter=30)
tagger.set_params(random_state=0).fit(X_train, [stays.step_target[i] for i in train])
hourly_auc = task_scorer(0, "roc_auc")(
    tagger, X_test, [stays.step_target[i] for i in test]
)
print(f"decompensation, hour by hour: ROC AUC {hourly_auc:.3f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 2.8))
for ax, metric in zip(axes, results["multi-task"]):
    values = [results[name][metric] for name in results]
    ax.bar(list(results), values, color=["tab:blue", "tab:gray"])
    ax.set_title(metric, fontsize=9)
    ax.set_ylim(min(values) * 0.9, max(values) * 1.05)
fig.tight_layout()
plt.show()
