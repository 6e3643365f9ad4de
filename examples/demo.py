"""The main job: simulate a branched Hodgkin–Huxley cell, plot it, and fit two conductances.

Run with `make demo`. Writes demo_traces.png beside this script's working directory.
"""

import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

import dendrax as dx

matplotlib.use("Agg")
import matplotlib.pyplot as plt

jax.config.update("jax_enable_x64", True)

DT, T_MAX = 0.025, 40.0

# A soma with two dendritic trees, 4 compartments per dendritic branch.
parents = [-1, 0, 1, 1, 0, 4, 4, 5, 5]
cell = dx.Cell.from_parents(parents, ncomp=[1] + [4] * 8, length=[20.0] + [25.0] * 8, radius=1.0)
cell.branch(0).set("radius", 10.0)
cell.insert(dx.channels.HH())
cell.branch(0).loc(0.5).stimulate(dx.step_current(5.0, 30.0, 0.8, DT, T_MAX))
cell.branch(0).loc(0.5).record("v")
cell.branch(7).loc(0.9).record("v")
sim = dx.build(cell, dt=DT)

start = time.perf_counter()
traces = sim.run().block_until_ready()
first = time.perf_counter() - start
start = time.perf_counter()
traces = sim.run().block_until_ready()
again = time.perf_counter() - start
soma = np.asarray(traces[0])
spikes = int(np.sum((soma[:-1] < 0.0) & (soma[1:] >= 0.0)))
print(f"{cell}: {spikes} somatic spikes in {T_MAX:.0f} ms")
print(f"first run (with compilation) {first:.2f} s, next run {1e3 * again:.1f} ms")

time_ms = sim.time()
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(time_ms, soma, label="soma")
ax.plot(time_ms, np.asarray(traces[1]), label="dendrite (branch 7, x = 0.9)")
ax.set(xlabel="time (ms)", ylabel="membrane potential (mV)")
ax.legend()
fig.tight_layout()
fig.savefig("demo_traces.png", dpi=120)
print("wrote demo_traces.png")

# Fit gNa and gK (one value each for the whole cell) to the trace of the default cell,
# starting from wrong values. Parameters are fitted as log-scale factors of the defaults.
target = traces
defaults = sim.params


def with_factors(log_factors):
    params = dict(defaults)
    params["HH"] = dict(defaults["HH"])
    params["HH"]["gNa"] = defaults["HH"]["gNa"] * jnp.exp(log_factors[0])
    params["HH"]["gK"] = defaults["HH"]["gK"] * jnp.exp(log_factors[1])
    return params


@jax.jit
def loss(log_factors):
    return jnp.mean((sim.run(with_factors(log_factors)) - target) ** 2)


log_factors = jnp.log(jnp.array([0.85, 1.2]))
optimizer = optax.adam(optax.cosine_decay_schedule(0.03, 60))
state = optimizer.init(log_factors)
value_and_grad = jax.jit(jax.value_and_grad(loss))
for step in range(60):
    value, grad = value_and_grad(log_factors)
    updates, state = optimizer.update(grad, state)
    log_factors = optax.apply_updates(log_factors, updates)
    if step % 5 == 0:
        factors = np.exp(np.asarray(log_factors))
        print(f"step {step:2d}  loss {float(value):9.3f} mV²", end="  ")
        print(f"gNa x{factors[0]:.3f}  gK x{factors[1]:.3f}")
factors = np.exp(np.asarray(log_factors))
print(f"fitted gNa x{factors[0]:.3f}, gK x{factors[1]:.3f} (target x1, x1)", end="; ")
print(f"loss {float(loss(log_factors)):.4f} mV²")
