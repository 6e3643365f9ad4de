"""O(N) solution of the tree-structured cable system (Hines 1984), with an adjoint.

The matrix is symmetric: `diag` on the diagonal and `-coupling[i]` between node i and its
parent `parent[i]` (< i; a root is its own parent and has zero coupling). Nodes run along
the first axis; under `vmap` the batch is moved behind them, so that each elimination step
updates one contiguous row of the batch.

Hines, M. (1984). Efficient computation of branched nerve equations.
Int. J. Bio-Medical Computing 15, 69–76.
"""

import jax
import jax.numpy as jnp
from jax import lax


def _eliminate_and_substitute(diag, coupling, rhs, parent):
    n = diag.shape[0]

    def eliminate(k, carry):
        d, b = carry
        i = n - 1 - k
        p = parent[i]
        factor = coupling[i] / d[i]
        return d.at[p].add(-factor * coupling[i]), b.at[p].add(factor * b[i])

    d, b = lax.fori_loop(0, n, eliminate, (diag, rhs))

    def substitute(i, x):
        return x.at[i].set((b[i] + coupling[i] * x[parent[i]]) / d[i])

    return lax.fori_loop(0, n, substitute, jnp.zeros_like(b))


@jax.custom_batching.custom_vmap
def _solve(diag, coupling, rhs, parent):
    return _eliminate_and_substitute(diag, coupling, rhs, parent)


@_solve.def_vmap
def _solve_batched(axis_size, in_batched, diag, coupling, rhs, parent):
    if in_batched[3]:
        raise ValueError("solve_tree: the tree (parent) cannot differ within a batch")
    nodes_first = [
        jnp.moveaxis(x, 0, -1) if batched else jnp.broadcast_to(x[..., None], (*x.shape, axis_size))
        for x, batched in zip((diag, coupling, rhs), in_batched[:3], strict=True)
    ]
    return jnp.moveaxis(_solve(*nodes_first, parent), -1, 0), True


@jax.custom_vjp
def solve_tree(diag, coupling, rhs, parent):
    """Solve A x = rhs for the symmetric tree matrix A described in the module docstring."""
    return _solve(diag, coupling, rhs, parent)


def _solve_fwd(diag, coupling, rhs, parent):
    x = _solve(diag, coupling, rhs, parent)
    return x, (diag, coupling, parent, x)


def _solve_bwd(residuals, x_bar):
    # A is symmetric, so the adjoint is one more solve with A: lam = A^-1 x_bar. Then
    # rhs_bar = lam, diag_bar_i = -lam_i x_i and, since coupling_i enters A at (i, p) and
    # (p, i) with a minus sign, coupling_bar_i = lam_i x_p + lam_p x_i.
    diag, coupling, parent, x = residuals
    lam = _solve(diag, coupling, x_bar, parent)
    is_root = parent == jnp.arange(parent.shape[0])
    is_root = is_root.reshape(is_root.shape + (1,) * (x.ndim - 1))
    coupling_bar = jnp.where(is_root, 0.0, lam * x[parent] + lam[parent] * x)
    return -lam * x, coupling_bar, lam, None


solve_tree.defvjp(_solve_fwd, _solve_bwd)
