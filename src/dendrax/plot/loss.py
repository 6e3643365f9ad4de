"""Plotting the loss of a fit against its steps."""

from __future__ import annotations

import numpy as np

from dendrax.training.fit import FitResult


def loss_curve(history, ax=None, log: bool = True):
    """Plot the loss per step of `dendrax.fit` (its `history`, or the result itself), one
    line per restart, on a log scale unless `log` is False. Returns the axes."""
    import matplotlib.pyplot as plt

    if isinstance(history, FitResult):
        history = history.history
    loss = np.asarray(history["loss"], dtype=float)
    if loss.ndim not in (1, 2) or loss.shape[0] == 0:
        raise ValueError(f"history['loss'] must be (steps,) or (steps, restarts), got {loss.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    steps = np.arange(loss.shape[0])
    lines = loss if loss.ndim == 1 else loss.T
    for line in np.atleast_2d(lines):
        ax.plot(steps, line)
    ax.set(xlabel="step", ylabel="loss", yscale="log" if log else "linear")
    return ax
