"""The host-side description of models: cells and selections."""

from dendrax.model.cell import Cell
from dendrax.model.selection import Selection

__all__ = ["Cell", "Selection"]
