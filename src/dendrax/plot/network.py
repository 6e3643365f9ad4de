"""Drawing a network: its cells at their positions and its connections as lines."""

from __future__ import annotations

import numpy as np

MAX_LINES = 5000
"""Connections drawn at most (a random sample of them beyond, said in the title)."""


def network(net, ax=None, morphologies: bool = True, max_connections: int = MAX_LINES, seed=0):
    """Draw `net` from above (x, y in µm): each cell at its position (`net.place`), as its
    reconstruction shifted there (cells read from a morphology, if `morphologies`) or as
    a dot, and each connection as a line from the presynaptic to the postsynaptic cell,
    coloured by synapse type (a legend names them; gap junctions dashed). Beyond
    `max_connections` a random sample (drawn with `seed`) is shown.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if ax is None:
        ax = plt.figure().add_subplot()
    positions = net.positions[:, :2]
    for cell, position in zip(net.cells, positions, strict=True):
        if morphologies and cell.morphology is not None:
            points = cell.morphology.points[:, :2]
            ax.plot(*(points - points.mean(axis=0) + position).T, ",", color="grey", alpha=0.4)
    ax.scatter(*positions.T, s=12, color="black", zorder=3, label="cells")
    table = net.synapses
    from_cells = np.flatnonzero(table["pre_cell"] >= 0)
    shown = from_cells
    if shown.size > max_connections:
        shown = np.sort(np.random.default_rng(seed).choice(shown, max_connections, replace=False))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, kind in enumerate(sorted(set(table["type"][shown]))):
        chosen = shown[table["type"][shown] == kind]
        lines = np.stack(
            [positions[table["pre_cell"][chosen]], positions[table["post_cell"][chosen]]], axis=1
        )
        style = "dashed" if kind == "GapJunction" else "solid"
        collection = LineCollection(
            lines, colors=colors[k % len(colors)], linewidths=0.6, alpha=0.5, linestyles=style
        )
        collection.set_label(f"{kind} ({int(np.sum(table['type'][from_cells] == kind))})")
        ax.add_collection(collection)
    ax.autoscale()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x (um)")
    ax.set_ylabel("y (um)")
    title = f"{len(net)} cells, {from_cells.size} connections between cells"
    if shown.size < from_cells.size:
        title += f" ({shown.size} drawn)"
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    return ax
