"""
Segmenting a stream: two labels at every step
=============================================

A sensor stream often holds one activity after another, and each instant has
several labels -- here an activity (4 classes) and a coarser intensity (2
classes). :class:`~sk_mtgru.MultiTaskGRUTagger` labels every step for both tasks
with one shared, bidirectional GRU; with two layers, the coarse task is
supervised at the lower one and the activity at the top
(``supervision_layers``).
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru import MultiTaskGRUTagger, SequenceScaler
from sk_mtgru.datasets import make_multitask_sequences

# The docs build runs every example, so the fits below train for fewer epochs
# than the default ``max_iter`` and would warn (ConvergenceWarning) that the
# loss was still falling. On your own data, keep the default and drop this line.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Synthetic streams of 60 to 120 steps, made of segments of 10 to 30 steps; every
# step carries its segment's two labels.
X, Y = make_multitask_sequences(
    300,
    n_tasks=2,
    n_classes=[4, 2],
    length=(60, 120),
    per_step=True,
    segment_length=(10, 30),
    noise=0.3,
    task_relatedness=0.7,
    random_state=0,
)
print(len(X), "streams;", X[0].shape, "->", Y[0].shape)

scaler = SequenceScaler().fit(X[:250])
tagger = MultiTaskGRUTagger(
    hidden_size=24,
    num_layers=2,
    supervision_layers=[1, 0],  # activity at the top, intensity below
    max_iter=15,
    learning_rate_init=5e-3,
    random_state=0,
).fit(scaler.transform(X[:250]), Y[:250])
X_test = scaler.transform(X[250:])
print("per-step accuracy, mean over tasks:", round(tagger.score(X_test, Y[250:]), 3))

# %%
# One held-out stream: its first two features, and the true and predicted activity
# of every step.
stream, truth = X_test[0], Y[250][:, 0]
predicted = tagger.predict([stream])[0][:, 0]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
top.plot(stream[:, :2])
top.set(ylabel="features", title="a held-out stream")
bottom.step(np.arange(len(truth)), truth, where="mid", label="true activity")
bottom.step(
    np.arange(len(truth)), predicted, where="mid", linestyle="--", label="predicted"
)
bottom.set(xlabel="step", ylabel="activity", yticks=range(4))
bottom.legend(loc="upper right", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# ``predict_proba`` gives, per task, one ``(n_timesteps, n_classes)`` array per
# stream: here the activity's probabilities over time.
proba = tagger.predict_proba([stream])[0][0]
fig, ax = plt.subplots(figsize=(8, 2.5))
ax.stackplot(np.arange(len(proba)), proba.T, labels=[f"activity {c}" for c in range(4)])
ax.set(xlabel="step", ylabel="probability", ylim=(0, 1))
ax.legend(loc="upper right", fontsize=7, ncol=4)
plt.show()
