"""
Per-task learning curves
========================

``history_`` records, per epoch, each task's loss and accuracy on the training data
and, with ``early_stopping=True``, on a held-out validation split. Tasks learn at
different speeds; :func:`~sk_mtgru.plotting.plot_learning_curves` draws them side
by side.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.plotting import plot_learning_curves

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, Y = make_multitask_sequences(
    600, n_tasks=3, n_classes=[2, 4, 6], length=20, noise=0.3, random_state=0
)
clf = MultiTaskGRUClassifier(
    hidden_size=32,
    max_iter=30,
    learning_rate_init=3e-3,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=5,
    random_state=0,
).fit(X, Y)
print(f"stopped after {clf.n_iter_} epochs")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
plot_learning_curves(clf, metric="loss", ax=left)
plot_learning_curves(clf, metric="acc", ax=right)
fig.tight_layout()
plt.show()

# %%
# The same figures are columns of the history, by name:
print(clf.history_[-1, ["train_loss_task_2", "valid_loss_task_2", "valid_acc_task_2"]])
