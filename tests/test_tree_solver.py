"""The tree solver against dense linear algebra, and NEURON's node layout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron import h
from neuron_reference import NeuronModel

import dendrax as dx
from dendrax.morphology import BranchTree, node_layout
from dendrax.solve import solve_tree


def random_parents(rng, n_nodes, n_roots=1):
    """Node parents (< own index; a root is its own parent) of `n_roots` random trees."""
    roots = set(rng.choice(np.arange(1, n_nodes), n_roots - 1, replace=False).tolist()) | {0}
    return np.array([i if i in roots else int(rng.integers(0, i)) for i in range(n_nodes)])


def chain(n_nodes):
    return np.maximum(np.arange(n_nodes) - 1, 0)


def star(n_nodes):
    return np.zeros(n_nodes, dtype=int)


def random_system(rng, parent):
    """A diagonally dominant (as in the cable equation) tree system and a right-hand side."""
    n = parent.size
    is_root = parent == np.arange(n)
    coupling = np.where(is_root, 0.0, rng.uniform(0.1, 10.0, n))
    coupled = coupling + np.bincount(parent, weights=coupling, minlength=n)
    diag = coupled + rng.uniform(1e-3, 2.0, n)
    return diag, coupling, rng.normal(size=n)


def dense_matrix(diag, coupling, parent):
    """The symmetric matrix with `diag` and -coupling[i] at (i, parent[i]) and (parent[i], i)."""
    n = diag.shape[0]
    child = np.flatnonzero(parent != np.arange(n))
    matrix = jnp.diag(diag)
    matrix = matrix.at[child, parent[child]].add(-coupling[child])
    return matrix.at[parent[child], child].add(-coupling[child])


TREES = {
    "one random tree": lambda rng: random_parents(rng, 60),
    "many roots (several cells)": lambda rng: random_parents(rng, 80, n_roots=7),
    "every node a root": lambda rng: np.arange(12),
    "chain": lambda rng: chain(50),
    "star": lambda rng: star(40),
    "single node": lambda rng: np.zeros(1, dtype=int),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tree", list(TREES))
def test_solve_matches_dense_solve(tree, seed):
    rng = np.random.default_rng(seed)
    parent = TREES[tree](rng)
    diag, coupling, rhs = random_system(rng, parent)
    x = solve_tree(jnp.asarray(diag), jnp.asarray(coupling), jnp.asarray(rhs), jnp.asarray(parent))
    expected = np.linalg.solve(np.asarray(dense_matrix(diag, coupling, parent)), rhs)
    np.testing.assert_allclose(x, expected, rtol=1e-10, atol=1e-12)


def test_solve_is_not_only_right_for_dominant_diagonals():
    # A matrix far from diagonal dominance (the cable system with a large dt and a strong
    # inward current slope) is still solved exactly as long as no pivot vanishes.
    rng = np.random.default_rng(5)
    parent = random_parents(rng, 40, n_roots=2)
    _, coupling, rhs = random_system(rng, parent)
    diag = rng.uniform(20.0, 40.0, parent.size)
    x = solve_tree(jnp.asarray(diag), jnp.asarray(coupling), jnp.asarray(rhs), jnp.asarray(parent))
    expected = np.linalg.solve(np.asarray(dense_matrix(diag, coupling, parent)), rhs)
    np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-12)


HYPOTHESIS_NODES = 24
_solve_jit = jax.jit(solve_tree)


@st.composite
def tree_systems(draw):
    """Any forest on HYPOTHESIS_NODES nodes (parent[i] = i marks a root) and its system."""
    parent = np.array([draw(st.integers(0, i)) for i in range(HYPOTHESIS_NODES)])
    seed = draw(st.integers(0, 2**32 - 1))
    return parent, *random_system(np.random.default_rng(seed), parent)


@settings(max_examples=40, deadline=None)
@given(tree_systems())
def test_solve_matches_dense_solve_on_any_forest(system):
    parent, diag, coupling, rhs = system
    x = _solve_jit(*(jnp.asarray(a) for a in (diag, coupling, rhs, parent)))
    expected = np.linalg.solve(np.asarray(dense_matrix(diag, coupling, parent)), rhs)
    np.testing.assert_allclose(x, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tree", ["one random tree", "many roots (several cells)", "chain"])
def test_custom_vjp_matches_autodiff_of_dense_solve(tree):
    rng = np.random.default_rng(11)
    parent = TREES[tree](rng)
    diag, coupling, rhs = (jnp.asarray(a) for a in random_system(rng, parent))
    weights = jnp.asarray(rng.normal(size=parent.size))
    parent_j = jnp.asarray(parent)

    def tree_loss(diag, coupling, rhs):
        x = solve_tree(diag, coupling, rhs, parent_j)
        return jnp.sum(weights * x + 0.5 * x**2)

    def dense_loss(diag, coupling, rhs):
        x = jnp.linalg.solve(dense_matrix(diag, coupling, parent), rhs)
        return jnp.sum(weights * x + 0.5 * x**2)

    ours = jax.jit(jax.grad(tree_loss, argnums=(0, 1, 2)))(diag, coupling, rhs)
    reference = jax.jit(jax.grad(dense_loss, argnums=(0, 1, 2)))(diag, coupling, rhs)
    for name, got, want in zip(("diag", "coupling", "rhs"), ours, reference, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=name)


def test_vjp_of_coupling_against_finite_differences():
    # Independent of jax's autodiff: central differences of the solve itself.
    rng = np.random.default_rng(3)
    parent = random_parents(rng, 15, n_roots=2)
    diag, coupling, rhs = random_system(rng, parent)
    weights = rng.normal(size=parent.size)

    @jax.jit
    def loss(coupling):
        x = solve_tree(jnp.asarray(diag), coupling, jnp.asarray(rhs), jnp.asarray(parent))
        return jnp.dot(weights, x)

    grad = np.asarray(jax.grad(loss)(jnp.asarray(coupling)))
    eps = 1e-6
    for i in np.flatnonzero(parent != np.arange(parent.size)):
        step = np.zeros_like(coupling)
        step[i] = eps
        fd = (loss(jnp.asarray(coupling + step)) - loss(jnp.asarray(coupling - step))) / (2 * eps)
        assert abs(grad[i] - fd) <= 1e-7 * max(1.0, abs(fd)), (i, grad[i], fd)


def test_solve_under_jit_and_vmap():
    rng = np.random.default_rng(2)
    parent = random_parents(rng, 30, n_roots=3)
    systems = [random_system(rng, parent) for _ in range(5)]
    diag, coupling, rhs = (jnp.asarray(np.stack(s)) for s in zip(*systems, strict=True))
    batched = jax.jit(jax.vmap(solve_tree, in_axes=(0, 0, 0, None)))(
        diag, coupling, rhs, jnp.asarray(parent)
    )
    for k, (d, c, b) in enumerate(systems):
        expected = np.linalg.solve(np.asarray(dense_matrix(d, c, parent)), b)
        np.testing.assert_allclose(batched[k], expected, rtol=1e-10, atol=1e-12)


def test_vmap_of_grad_matches_dense_solve():
    # The batched solve (custom vmap rule) and the adjoint (custom VJP) together.
    rng = np.random.default_rng(4)
    parent = random_parents(rng, 25, n_roots=2)
    systems = [random_system(rng, parent) for _ in range(3)]
    diag, coupling, rhs = (jnp.asarray(np.stack(s)) for s in zip(*systems, strict=True))

    def tree_loss(diag, coupling, rhs):
        return jnp.sum(solve_tree(diag, coupling, rhs, jnp.asarray(parent)) ** 3)

    def dense_loss(diag, coupling, rhs):
        return jnp.sum(jnp.linalg.solve(dense_matrix(diag, coupling, parent), rhs) ** 3)

    ours = jax.jit(jax.vmap(jax.grad(tree_loss, argnums=(0, 1, 2))))(diag, coupling, rhs)
    reference = jax.vmap(jax.grad(dense_loss, argnums=(0, 1, 2)))(diag, coupling, rhs)
    for name, got, want in zip(("diag", "coupling", "rhs"), ours, reference, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=name)


# -- node layout --------------------------------------------------------------------


def test_node_layout_of_a_small_tree():
    # Branch 0 (root, 2 compartments), branch 1 (3 compartments) and branch 2 (1) on its end.
    layout = node_layout(BranchTree.from_parents([-1, 0, 0], ncomp=[2, 3, 1]))
    # Root: near end node 0, centres 1 and 2, far end 3; branch 1: centres 4-6, end 7;
    # branch 2: centre 8, end 9.
    assert layout.n_nodes == 10
    np.testing.assert_array_equal(layout.parent, [0, 0, 1, 2, 3, 4, 5, 6, 3, 8])
    np.testing.assert_array_equal(layout.is_root, [True] + [False] * 9)
    np.testing.assert_array_equal(layout.comp_node, [1, 2, 4, 5, 6, 8])
    # Between a centre and the previous centre lie two half compartments; between a
    # centre and a zero-area end node, one.
    np.testing.assert_array_equal(layout.near_half, [-1, 0, 1, -1, 2, 3, 4, -1, 5, -1])
    np.testing.assert_array_equal(layout.far_half, [-1, -1, 0, 1, -1, 2, 3, 4, -1, 5])


def test_node_layout_of_several_cells_has_one_root_each():
    layout = node_layout(BranchTree.from_parents([-1, 0, -1, 2, 2, -1], ncomp=[1, 2, 3, 1, 2, 4]))
    assert int(layout.is_root.sum()) == 3
    assert np.all(layout.parent <= np.arange(layout.n_nodes))
    # n compartments + 1 far end node per branch, + 1 near end node per root.
    assert layout.n_nodes == (1 + 2 + 3 + 1 + 2 + 4) + 6 + 3


def _neuron_nodes(sections):
    """NEURON's node index at x = 0, at each segment centre, and at x = 1 of each section."""
    h.finitialize(-65.0)
    return [
        (sec(0).node_index(), [seg.node_index() for seg in sec], sec(1).node_index())
        for sec in sections
    ]


def _our_nodes(tree, layout):
    """Our node at x = 0, at each compartment centre, and at x = 1 of each branch."""
    nodes = []
    for branch in range(tree.n_branches):
        comps = np.arange(tree.comp_offsets[branch], tree.comp_offsets[branch + 1])
        centres = layout.comp_node[comps]
        end = np.flatnonzero((layout.far_half == comps[-1]) & (layout.near_half < 0))
        assert end.size == 1
        nodes.append((int(layout.parent[centres[0]]), centres.tolist(), int(end[0])))
    return nodes


@pytest.mark.parametrize("parent_x", [1.0, 0.5, 0.0])
def test_node_layout_matches_neuron(parent_x):
    parents, ncomp = [-1, 0, 0, 1, 2, -1, 5], [3, 2, 4, 1, 5, 2, 1]
    # Branch 2 attaches at `parent_x` of the root, branch 4 inside branch 2 (NEURON: at the
    # node of the segment that holds x); branch 5 is a second cell.
    attach = [1.0, 1.0, parent_x, 1.0, 0.3, 1.0, 1.0]
    tree = BranchTree.from_parents(parents, ncomp=ncomp, parent_x=attach)
    layout = node_layout(tree)
    sections = []
    for i, parent in enumerate(parents):
        sec = h.Section(name=f"layout{i}")
        sec.nseg = ncomp[i]
        if parent >= 0:
            sec.connect(sections[parent](attach[i]), 0.0)
        sections.append(sec)
    theirs = _neuron_nodes(sections)
    ours = _our_nodes(tree, layout)

    # The same places share a node in both: the map from our nodes to NEURON's is a bijection.
    pairs = {
        (our, their)
        for (s0, c0, e0), (s1, c1, e1) in zip(ours, theirs, strict=True)
        for our, their in zip((s0, *c0, e0), (s1, *c1, e1), strict=True)
    }
    assert len({our for our, _ in pairs}) == len(pairs) == len({their for _, their in pairs})
    assert len(pairs) == layout.n_nodes
    # Each centre hangs on the previous place of its section, the far end on the last centre.
    for start, centres, end in ours:
        np.testing.assert_array_equal(layout.parent[centres], [start, *centres[:-1]])
        assert layout.parent[end] == centres[-1]
    assert int(layout.is_root.sum()) == 2


def test_several_cells_in_one_simulation_match_neuron():
    # Two roots: two HH cells solved as one forest; only the first is stimulated, so the
    # second must stay exactly as an unstimulated cell, and both must match NEURON.
    geometry = {
        "parents": [-1, 0, 0, -1, 3],
        "ncomp": [1, 3, 2, 2, 4],
        "length": [20.0, 30.0, 25.0, 15.0, 20.0],
        "radius": [8.0, 1.0, 0.7, 5.0, 0.6],
    }
    dt, t_max = 0.025, 20.0
    sites = [(0, 0), (1, 2), (2, 1), (3, 0), (4, 3)]
    cell = dx.Cell.from_parents(**geometry)
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(2.0, 10.0, 0.5, dt, t_max))
    for b, c in sites:
        cell.branch(b).comp(c).record("v")
    ours = np.asarray(dx.build(cell, dt=dt).run())

    neuron = NeuronModel(**geometry)
    neuron.insert("hh")
    neuron.iclamp(0, 0, 2.0, 10.0, 0.5)
    for b, c in sites:
        neuron.record(b, c)
    theirs = neuron.run(t_max, dt)
    assert np.max(ours[0]) > 0.0, "the first cell should spike"
    assert np.max(ours[3:]) < -64.0, "the second cell is not stimulated"
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
