"""
Sequences of different lengths
==============================

Recordings rarely share one length. Pass them as a list of ``(n_timesteps_i,
n_features)`` arrays: each batch is padded only to its longest sequence. The
padding comes after each sequence's end, so it cannot change the GRU's outputs at
the real steps, and every summary stops at the real end: a sequence gets the same
prediction alone as in a batch of longer ones. Long recordings can also be cut
into windows with :func:`~sk_mtgru.sliding_windows`, which keeps each window's
recording in ``groups`` for group-aware cross-validation.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupKFold, cross_val_score

from sk_mtgru import MultiTaskGRUClassifier, sliding_windows
from sk_mtgru.datasets import make_multitask_sequences

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, Y = make_multitask_sequences(
    400, n_tasks=2, n_classes=[2, 3], length=(10, 60), noise=0.3, random_state=0
)
lengths = np.array([len(x) for x in X])
print(type(X).__name__, len(X), "sequences of", lengths.min(), "to", lengths.max())

clf = MultiTaskGRUClassifier(
    hidden_size=16, max_iter=10, learning_rate_init=3e-3, random_state=0
)
clf.fit(X[:300], Y[:300])

# %%
# Padding changes nothing: the shortest test sequence, alone and in a batch.
short = int(np.argmin(lengths[300:])) + 300
alone = clf.predict_proba([X[short]])[0]
in_batch = clf.predict_proba(X[300:])[0][short - 300]
print(np.allclose(alone[0], in_batch, atol=1e-6))

# %%
# Accuracy of the first task on held-out sequences, by length.
correct = clf.predict(X[300:])[:, 0] == Y[300:, 0]
bins = np.array([10, 27, 44, 61])
which = np.digitize(lengths[300:], bins) - 1
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(
    [f"{bins[i]}-{bins[i + 1] - 1}" for i in range(3)],
    [correct[which == i].mean() for i in range(3)],
)
ax.set(xlabel="steps", ylabel="accuracy, task 0", title="Held-out accuracy by length")
plt.show()

# %%
# Windows of long recordings: each of 100 sequences gives windows of 10 steps that
# inherit its labels; ``GroupKFold`` keeps the windows of one recording in the same
# fold.
X_win, Y_win, groups = sliding_windows(X[:100], Y[:100], width=10, step=10)
print(X_win.shape, Y_win.shape, groups[:8])
scores = cross_val_score(
    MultiTaskGRUClassifier(hidden_size=8, max_iter=3, random_state=0),
    X_win,
    Y_win,
    groups=groups,
    cv=GroupKFold(n_splits=3),
)
print("window accuracy per fold:", np.round(scores, 3))
