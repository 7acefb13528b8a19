"""
Quickstart: three labels per sequence
=====================================

A :class:`~sk_mtgru.MultiTaskGRUClassifier` reads every sequence once with a GRU
shared by all tasks and predicts each task's label with its own output layer. Here
the sequences are synthetic sensor recordings with three labels each.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.metrics import per_task_accuracy

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# The data: 600 sequences of 30 steps and 4 features -- batch first, channels last,
# the axis order of ``torch.nn.GRU(batch_first=True)`` -- with labels for three tasks
# of 2, 3 and 4 classes, one column per task.
X, Y = make_multitask_sequences(
    600, n_tasks=3, n_classes=[2, 3, 4], length=30, noise=0.3, random_state=0
)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
print(X.shape, Y.shape)

fig, ax = plt.subplots(figsize=(6, 2.5))
ax.plot(X[0])
ax.set(title=f"one sequence; its labels: {Y[0].tolist()}", xlabel="step")
plt.show()

# %%
# Train. ``max_iter`` counts epochs, as in scikit-learn's ``MLPClassifier``.
clf = MultiTaskGRUClassifier(
    hidden_size=32, max_iter=20, learning_rate_init=3e-3, random_state=0
)
clf.fit(X_train, Y_train)

# %%
# ``predict`` gives one column per task, in the original labels; ``predict_proba``
# one array of probabilities per task; ``score`` the mean of the tasks' accuracies.
print(clf.predict(X_test[:3]))
print([p.shape for p in clf.predict_proba(X_test[:3])])
print("per task:", np.round(per_task_accuracy(Y_test, clf.predict(X_test)), 3))
print("score (mean over tasks):", round(clf.score(X_test, Y_test), 3))
