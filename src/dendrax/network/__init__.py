"""Networks of cells: the container, connectivity builders and gap junctions."""

from dendrax.network.connect import (
    connect,
    connect_edges,
    connect_matrix,
    fully_connect,
    gap_junction,
    sparse_connect,
)
from dendrax.network.network import CellGroup, Network

__all__ = [
    "CellGroup",
    "Network",
    "connect",
    "connect_edges",
    "connect_matrix",
    "fully_connect",
    "gap_junction",
    "sparse_connect",
]
