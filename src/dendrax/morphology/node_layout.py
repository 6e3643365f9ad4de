"""NEURON's node layout: the tree of voltage nodes that the cable equation is solved on.

A branch of n compartments has n nodes at the compartments' centres and one node of zero
area at its far end (x = 1), which its children attached there share; a root branch also has
a zero-area node at its near end (x = 0). Neighbouring nodes couple through the axial
resistance between them: half a compartment on each side that is a compartment centre.
A child attached in the interior of its parent (0 < x < 1) shares the node of the parent
compartment that contains x, as in NEURON. Zero-area nodes carry no capacitance and no
membrane, so keeping them leaves the matrix a tree (eliminating them would couple siblings).

Nodes are numbered branch by branch, so that every node's parent has a smaller index.
"""

from dataclasses import dataclass

import numpy as np

from dendrax.morphology.branch_tree import BranchTree


@dataclass(frozen=True)
class NodeLayout:
    """Index arrays of the node tree.

    Attributes:
        n_nodes: total number of nodes.
        parent: parent node of each node; a root node is its own parent.
        is_root: whether each node is a root (no coupling to a parent).
        near_half: compartment whose near half (towards its branch's x = 0) lies between
            each node and its parent (-1 where none).
        far_half: compartment whose far half (towards x = 1) lies between each node and its
            parent (-1 where none). Both are -1 for a root.
        comp_node: node of each compartment's centre.
    """

    n_nodes: int
    parent: np.ndarray
    is_root: np.ndarray
    near_half: np.ndarray
    far_half: np.ndarray
    comp_node: np.ndarray


def _attachments(tree: BranchTree, is_root_branch, base, end, comp_node) -> np.ndarray:
    """The node each branch's near end is (NEURON's rule for where children connect),
    for every branch at once."""
    parent = np.where(is_root_branch, 0, tree.parents)
    x = tree.parent_x
    ncomp = tree.ncomp[parent]
    comp = tree.comp_offsets[parent] + np.minimum((x * ncomp).astype(np.int64), ncomp - 1)
    start = np.where(x == 1.0, end[parent], comp_node[comp])
    start = np.where(is_root_branch, base, np.where(x == 0.0, -1, start))
    pending = start < 0
    while pending.any():
        ready = pending & (start[parent] >= 0)
        start[ready] = start[parent[ready]]
        pending &= ~ready
    return start


def node_layout(tree: BranchTree) -> NodeLayout:
    """Lay out the nodes of `tree` as NEURON does and record how they couple."""
    is_root_branch = tree.parents < 0
    size = tree.ncomp + 1 + is_root_branch
    base = np.concatenate([[0], np.cumsum(size)[:-1]])
    n_nodes = int(size.sum())
    first_comp_node = base + is_root_branch
    comp_node = np.repeat(first_comp_node, tree.ncomp) + tree.comp_index_in_branch
    end = first_comp_node + tree.ncomp
    last_comp = tree.comp_offsets[1:] - 1

    parent = np.arange(n_nodes)
    near_half = np.full(n_nodes, -1)
    far_half = np.full(n_nodes, -1)

    # Compartment centres: the previous compartment of the same branch, through two halves.
    comps = np.arange(tree.n_compartments)
    inner = tree.comp_index_in_branch > 0
    parent[comp_node[inner]] = comp_node[inner] - 1
    near_half[comp_node] = comps
    far_half[comp_node[inner]] = comps[inner] - 1

    # Far-end nodes hang on the last compartment through its half.
    parent[end] = comp_node[last_comp]
    far_half[end] = last_comp

    # A branch's near end is its own zero-area node for a root, else where it attaches:
    # the parent's far end (x = 1), the node of the parent's compartment holding x, or the
    # parent's own near end (x = 0), resolved along chains of such attachments.
    start = _attachments(tree, is_root_branch, base, end, comp_node)
    first_comps = tree.comp_offsets[:-1]
    parent[comp_node[first_comps]] = start
    is_root = parent == np.arange(n_nodes)
    return NodeLayout(n_nodes, parent, is_root, near_half, far_half, comp_node)
