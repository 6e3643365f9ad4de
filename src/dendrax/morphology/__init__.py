"""Morphology: the branch tree, its discretisation into compartments and NEURON's node layout,
and the readers' checks (`MorphologyWarning`)."""

from dendrax.morphology.branch_tree import BranchTree
from dendrax.morphology.checks import MorphologyWarning
from dendrax.morphology.node_layout import NodeLayout, node_layout

__all__ = ["BranchTree", "MorphologyWarning", "NodeLayout", "node_layout"]
