"""`fit`: gradient descent on theta with an optax optimiser, a progress bar, early
stopping, gradient clipping, NaN protection, checkpoints and parallel restarts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.training import fit_state


@dataclass(frozen=True)
class FitResult:
    """What `fit` found.

    Attributes:
        theta: the theta of the lowest loss seen (of the best restart).
        loss: that loss.
        last_theta: theta after the last step (all restarts, stacked on axis 0, if any).
        opt_state: the optimiser's state after the last step.
        history: per step, "loss" and "grad_norm" (global norm of the gradient; a column
            per restart, if any) and "time" (s since the start of the fit).
        stopped: "steps" (all were run), "early stopping" or "stop_below".
    """

    theta: dict
    loss: float
    last_theta: dict
    opt_state: object
    history: dict
    stopped: str


class NonFiniteError(FloatingPointError):
    """A loss, gradient or value of theta went NaN or infinite during `fit`.

    Attributes:
        theta: the last theta whose values and loss were finite.
        history: the history up to that step.
    """

    def __init__(self, message: str, theta, history: dict):
        super().__init__(message)
        self.theta = theta
        self.history = history


def fit(
    loss,
    theta,
    optimizer,
    steps: int,
    *,
    sim=None,
    data=None,
    batch_size: int | None = None,
    clip: float | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    stop_below: float | None = None,
    restarts: int | None = None,
    spread: float = 1.0,
    seed: int = 0,
    checkpoint=None,
    checkpoint_every: int = 100,
    progress: bool = True,
) -> FitResult:
    """Minimise `loss(theta)` (or `loss(theta, batch)` with `data`) by `steps` steps of
    `optimizer`.

    Args:
        loss: a function of theta (and a batch of `data`) returning a scalar; it is
            jit-compiled with its gradient.
        theta: the starting point, a pytree (`sim.trainable_params()`).
        optimizer: an optax `GradientTransformation` (`optax.adam(1e-2)`;
            `optax.multi_transform` for learning rates per trainable).
        steps: number of steps (in all, counting those before a resumed checkpoint).
        sim: the `Simulation` theta belongs to, so that errors name the parameter and group.
        data: a pytree of arrays with one leading axis of examples (stimuli and target
            traces); each step passes `batch_size` of them (default: all) to `loss`, in an
            order shuffled anew every pass over the data (with `seed`).
        clip: clip the gradient to this global norm first (`optax.clip_by_global_norm`).
        patience: stop when the best loss has not improved by more than `min_delta` for
            this many steps (None: never).
        stop_below: stop at the first step whose loss (of any restart) is below this;
            the number of steps run is then `len(history["loss"])`.
        restarts: run this many fits in parallel under `jax.vmap`: the first from
            `theta`, the others from theta plus normal noise of standard deviation `spread`
            (in unconstrained space), drawn with `seed`. The best one is returned.
        checkpoint: a file (.npz) to which theta, the optimiser state and the history are
            written every `checkpoint_every` steps and at the end; if it exists when `fit`
            starts, the fit resumes from it.
        progress: show a progress bar (tqdm) with the loss.

    Raises:
        NonFiniteError: where the loss, a gradient or a value of theta goes NaN or
            infinite, naming the trainable and group (with `sim`).
    """
    import optax

    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if clip is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(clip), optimizer)
    batched = restarts is not None
    if batched:
        theta = _starts(theta, restarts, spread, seed)
    batches = _Batches(data, batch_size, seed) if data is not None else None

    def one_step(theta, state, batch):
        args = () if batches is None else (batch,)
        value, grads = jax.value_and_grad(loss)(theta, *args)
        updates, state = optimizer.update(grads, state, theta)
        return optax.apply_updates(theta, updates), state, value, grads, optax.tree.norm(grads)

    init = jax.vmap(optimizer.init) if batched else optimizer.init
    step_fn = jax.jit(jax.vmap(one_step, in_axes=(0, 0, None)) if batched else one_step)
    state = init(theta)
    done, history = 0, {"loss": [], "grad_norm": [], "time": []}
    best = (np.inf, _pick(theta, 0) if batched else theta)
    if checkpoint is not None:
        saved = fit_state.load(checkpoint, (theta, state, best[1]))
        if saved is not None:
            (theta, state, best_theta), best_loss, history, done = saved
            best = (best_loss, best_theta)
    bar = _bar(progress, steps, done)
    since_best, stopped, start = 0, "steps", time.perf_counter() - _last(history["time"])
    for step in range(done, steps):
        batch = None if batches is None else batches.at(step)
        new_theta, new_state, value, grads, norm = step_fn(theta, state, batch)
        value = np.asarray(value)
        _check_finite(sim, step, value, grads, new_theta, theta, history, batched)
        history["loss"].append(value)
        history["grad_norm"].append(np.asarray(norm))
        history["time"].append(time.perf_counter() - start)
        lowest = float(np.min(value))
        if lowest < best[0] - min_delta:
            since_best = 0
        else:
            since_best += 1
        if lowest < best[0]:
            best = (lowest, _pick(theta, int(np.argmin(value))) if batched else theta)
        theta, state = new_theta, new_state
        bar.set_postfix(loss=f"{lowest:.4g}", best=f"{best[0]:.4g}", refresh=False)
        bar.update(1)
        if checkpoint is not None and (step + 1) % checkpoint_every == 0:
            fit_state.save(checkpoint, (theta, state, best[1]), best[0], history, step + 1)
        if stop_below is not None and lowest < stop_below:
            stopped = "stop_below"
            break
        if patience is not None and since_best >= patience:
            stopped = "early stopping"
            break
    bar.close()
    if checkpoint is not None:
        fit_state.save(checkpoint, (theta, state, best[1]), best[0], history, len(history["loss"]))
    return FitResult(best[1], best[0], theta, state, _arrays(history), stopped)


class _Batches:
    """Batches of `data` by step: pass after pass over the examples, each pass in its own
    order drawn from (seed, pass), so that a resumed fit sees the same batches."""

    def __init__(self, data, size: int | None, seed: int):
        sizes = {
            np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree_util.tree_leaves(data)
        }
        if len(sizes) != 1 or None in sizes:
            raise ValueError(
                f"data must be arrays with one common leading axis of examples; their "
                f"leading sizes are {sorted(sizes, key=str)}"
            )
        self.n = sizes.pop()
        self.size = self.n if size is None else size
        if not (isinstance(self.size, int) and 1 <= self.size <= self.n):
            raise ValueError(f"batch_size must be an integer in [1, {self.n}], got {size!r}")
        self.data, self.seed = data, seed

    def at(self, step: int):
        if self.size == self.n:
            return self.data
        per_pass = self.n // self.size
        n_pass, k = divmod(step, per_pass)
        order = np.random.default_rng([self.seed, n_pass]).permutation(self.n)
        chosen = order[k * self.size : (k + 1) * self.size]
        return jax.tree_util.tree_map(lambda leaf: leaf[chosen], self.data)


def _starts(theta, restarts: int, spread: float, seed: int):
    """theta stacked `restarts` times, all but the first perturbed."""
    if not (isinstance(restarts, int) and restarts >= 1):
        raise ValueError(f"restarts must be a positive integer, got {restarts!r}")
    leaves, treedef = jax.tree_util.tree_flatten(theta)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    stacked = []
    for key, leaf in zip(keys, leaves, strict=True):
        leaf = jnp.asarray(leaf)
        noise = spread * jax.random.normal(key, (restarts, *leaf.shape), leaf.dtype)
        stacked.append(leaf[None] + noise.at[0].set(0))
    return jax.tree_util.tree_unflatten(treedef, stacked)


def _pick(theta, restart: int):
    return jax.tree_util.tree_map(lambda leaf: leaf[restart], theta)


def _last(times: list) -> float:
    return float(times[-1]) if times else 0.0


def _arrays(history: dict) -> dict:
    return {name: np.asarray(values) for name, values in history.items()}


def _bar(progress: bool, steps: int, done: int):
    if not progress:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "fit's progress bar needs tqdm (pip install dendrax[train]); or pass progress=False"
        ) from None
    return tqdm(total=steps, initial=done, desc="fit", unit="step")


class _NoBar:
    """The progress bar's methods, doing nothing (progress=False)."""

    def set_postfix(self, **kwargs):
        pass

    def update(self, n):
        pass

    def close(self):
        pass


def _check_finite(sim, step, value, grads, new_theta, theta, history, batched) -> None:
    """Raise `NonFiniteError` naming what went NaN or infinite at `step`."""
    if np.all(np.isfinite(value)) and _all_finite(grads) and _all_finite(new_theta):
        return
    if np.all(np.isfinite(value)):
        for what, tree in (("gradient", grads), ("value", new_theta)):
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
                leaf = np.asarray(leaf)
                bad = np.argwhere(~np.isfinite(leaf))
                if bad.size:
                    where = tuple(int(i) for i in bad[0])
                    name = _name(sim, path, where[-1] if where else 0, leaf.ndim > batched)
                    restart = f" in restart {where[0]}" if batched else ""
                    raise NonFiniteError(
                        f"at step {step}{restart}, the {what} of {name} is {leaf[where]}; "
                        f"error.theta holds the last finite theta",
                        theta,
                        _arrays(history),
                    )
    restart = f" in restart {int(np.flatnonzero(~np.isfinite(value))[0])}" if batched else ""
    raise NonFiniteError(
        f"at step {step}{restart}, the loss is {value.reshape(-1)[0]} while theta is finite: "
        f"the simulation went invalid (sim.first_invalid(sim.params_from(error.theta)) finds "
        f"where), or the loss itself did",
        theta,
        _arrays(history),
    )


def _all_finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree_util.tree_leaves(tree))


def _name(sim, path, group: int, has_groups: bool) -> str:
    """The trainable at `path` in theta and its group, as readable as `sim` allows."""
    key = path[0].key if path and isinstance(path[0], jax.tree_util.DictKey) else None
    if sim is not None and key in {i.key for i in sim.trainables.info} and has_groups:
        return sim.trainables.describe(key, group)
    return f"theta{jax.tree_util.keystr(path)}" + (f"[{group}]" if has_groups else "")
