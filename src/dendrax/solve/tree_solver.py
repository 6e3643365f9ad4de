"""O(N) solution of the tree-structured cable system (Hines 1984), with an adjoint.

The matrix is symmetric: `diag` on the diagonal and `-coupling[i]` between node i and its
parent `parent[i]` (< i; a root is its own parent and has zero coupling).

Hines, M. (1984). Efficient computation of branched nerve equations.
Int. J. Bio-Medical Computing 15, 69–76.
"""

import jax
import jax.numpy as jnp
from jax import lax


def _eliminate_and_substitute(diag, coupling, rhs, parent):
    n = diag.shape[-1]

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


@jax.custom_vjp
def solve_tree(diag, coupling, rhs, parent):
    """Solve A x = rhs for the symmetric tree matrix A described in the module docstring."""
    return _eliminate_and_substitute(diag, coupling, rhs, parent)


def _solve_fwd(diag, coupling, rhs, parent):
    x = _eliminate_and_substitute(diag, coupling, rhs, parent)
    return x, (diag, coupling, parent, x)


def _solve_bwd(residuals, x_bar):
    # A is symmetric, so the adjoint is one more solve with A: lam = A^-1 x_bar. Then
    # rhs_bar = lam, diag_bar_i = -lam_i x_i and, since coupling_i enters A at (i, p) and
    # (p, i) with a minus sign, coupling_bar_i = lam_i x_p + lam_p x_i.
    diag, coupling, parent, x = residuals
    lam = _eliminate_and_substitute(diag, coupling, x_bar, parent)
    is_root = parent == jnp.arange(parent.shape[-1])
    coupling_bar = jnp.where(is_root, 0.0, lam * x[parent] + lam[parent] * x)
    return -lam * x, coupling_bar, lam, None


solve_tree.defvjp(_solve_fwd, _solve_bwd)
