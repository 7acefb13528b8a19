"""
Multi-task versus single-task
=============================

When tasks are related, training them together can let each use what the others
teach the shared encoder. Here three related tasks (``task_relatedness=0.8``) are
learnt from training sets of growing size by one
:class:`~sk_mtgru.MultiTaskGRUClassifier` and by three single-task GRUs of the same
size (the same estimator given one column of labels), and scored on the same 400
held-out sequences. Read the printed figures and the plot as one measurement, not a
law: the gain, if any, depends on how related the tasks are, on the noise and on
the training set's size -- and three single-task GRUs have three times the units.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.metrics import per_task_accuracy

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, Y = make_multitask_sequences(
    1400,
    n_tasks=3,
    n_classes=3,
    length=20,
    noise=0.5,
    task_relatedness=0.8,
    random_state=0,
)
X_test, Y_test = X[1000:], Y[1000:]


def gru():
    return MultiTaskGRUClassifier(
        hidden_size=16, max_iter=15, learning_rate_init=3e-3, random_state=0
    )


sizes = [100, 300, 1000]
multi, single = [], []
for n in sizes:
    model = gru().fit(X[:n], Y[:n])
    multi.append(np.mean(per_task_accuracy(Y_test, model.predict(X_test))))
    single.append(
        np.mean(
            [
                np.mean(gru().fit(X[:n], Y[:n, k]).predict(X_test) == Y_test[:, k])
                for k in range(3)
            ]
        )
    )
    print(f"n={n:>4}: multi-task {multi[-1]:.3f}, single-task {single[-1]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(sizes, multi, "o-", label="one multi-task GRU")
ax.plot(sizes, single, "s--", label="three single-task GRUs")
ax.set(xscale="log", xlabel="training sequences", ylabel="mean test accuracy")
ax.legend()
plt.show()

# %%
# On real data, measure: on the bundled watch recordings, whose tasks are hardly
# related, the single-task models win (see the accuracy table in the user guide).
