"""Solvers: the tree-structured linear system and time stepping."""

from dendrax.solve.tree_solver import solve_tree

__all__ = ["solve_tree"]
