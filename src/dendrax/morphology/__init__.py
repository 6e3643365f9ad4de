"""Morphology: the branch tree, its discretisation into compartments and NEURON's node layout."""

from dendrax.morphology.branch_tree import BranchTree
from dendrax.morphology.node_layout import NodeLayout, node_layout

__all__ = ["BranchTree", "NodeLayout", "node_layout"]
