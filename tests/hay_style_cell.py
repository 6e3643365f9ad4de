"""A Hay et al. (2011)-style layer-5 pyramidal cell of cylinders, in dendrax and NEURON.

Soma, basal dendrites, an apical trunk with a tuft and an axon, with the channel densities
of Hay et al.'s L5PCbiophys3 per region (uniform within a branch; the apical Ih and Ca
hot zone as steps along the trunk). Used by the full-cell parity test and the benchmark.
"""

import numpy as np

import dendrax as dx

SOMA, AXON, BASAL, APICAL = "soma", "axon", "basal", "apical"

# branch: (parent, region, ncomp, compartment length µm, radius µm)
BRANCHES = [
    (-1, SOMA, 1, 20.0, 10.0),
    (0, AXON, 4, 15.0, 0.6),
    (0, BASAL, 4, 40.0, 0.6),
    (0, BASAL, 4, 40.0, 0.6),
    (2, BASAL, 3, 50.0, 0.4),
    (2, BASAL, 3, 50.0, 0.4),
    (0, APICAL, 6, 60.0, 1.6),
    (6, APICAL, 5, 60.0, 1.0),
    (7, APICAL, 5, 50.0, 0.5),
    (7, APICAL, 5, 50.0, 0.5),
]

# region: (capacitance µF/cm², g_pas S/cm², {suffix: {parameter: value}})
SOMATIC = {
    "Ca_LVAst": {"gCa_LVAstbar": 0.00343},
    "Ca_HVA": {"gCa_HVAbar": 0.000992},
    "SKv3_1": {"gSKv3_1bar": 0.693},
    "SK_E2": {"gSK_E2bar": 0.0441},
    "K_Tst": {"gK_Tstbar": 0.0812},
    "K_Pst": {"gK_Pstbar": 0.00223},
    "Nap_Et2": {"gNap_Et2bar": 0.00172},
    "NaTs2_t": {"gNaTs2_tbar": 2.04},
    "CaDynamics_E2": {"gamma": 0.000501, "decay": 460.0},
    "Ih": {"gIhbar": 0.0002},
}
REGIONS = {
    SOMA: (1.0, 3.38e-5, SOMATIC),
    AXON: (
        1.0,
        3.25e-5,
        {
            "NaTa_t": {"gNaTa_tbar": 3.137},
            "K_Tst": {"gK_Tstbar": 0.0895},
            "K_Pst": {"gK_Pstbar": 0.973},
            "SKv3_1": {"gSKv3_1bar": 1.2},
            "Nap_Et2": {"gNap_Et2bar": 0.0068},
            "Ca_HVA": {"gCa_HVAbar": 0.00099},
            "Ca_LVAst": {"gCa_LVAstbar": 0.00873},
            "SK_E2": {"gSK_E2bar": 0.0148},
            "CaDynamics_E2": {"gamma": 0.0029, "decay": 287.2},
        },
    ),
    BASAL: (2.0, 4.67e-5, {"Ih": {"gIhbar": 0.0002}}),
    APICAL: (
        2.0,
        5.89e-5,
        {
            "NaTa_t": {"gNaTa_tbar": 0.0213},
            "SKv3_1": {"gSKv3_1bar": 0.000261},
            "Im": {"gImbar": 6.75e-5},
            "Ih": {"gIhbar": 0.0004},
            "Ca_LVAst": {"gCa_LVAstbar": 0.0187},
            "Ca_HVA": {"gCa_HVAbar": 0.000555},
            "SK_E2": {"gSK_E2bar": 0.0012},
            "CaDynamics_E2": {"gamma": 0.000509, "decay": 122.0},
        },
    ),
}
AXIAL_RESISTIVITY = 100.0
E_PAS, ENA, EK = -90.0, 50.0, -85.0
CELSIUS, V_INIT = 34.0, -80.0


def scaled(n_copies: int = 1):
    """The branch table repeated: n_copies of the basal and apical subtrees on one soma."""
    branches = list(BRANCHES[:2])
    for _ in range(n_copies):
        offset = len(branches) - 2
        for parent, region, ncomp, length, radius in BRANCHES[2:]:
            branches.append(
                (parent if parent == 0 else parent + offset, region, ncomp, length, radius)
            )
    return branches


def dendrax_cell(branches=BRANCHES, mechanisms=None) -> dx.Cell:
    """The cell with the library's Hay channels, or those of `mechanisms` (by suffix, for
    instance the classes `dx.load_mods` returns; the leak is their "pas" where they have
    one, as NEURON's passive.mod, else the library's Leak)."""
    parents, regions, ncomp, length, radius = zip(*branches, strict=True)
    cell = dx.Cell.from_parents(
        list(parents), list(ncomp), list(length), list(radius), axial_resistivity=AXIAL_RESISTIVITY
    )
    if mechanisms and "pas" in mechanisms:
        cell.insert(mechanisms["pas"](e=E_PAS))
        leak = "pas.g"
    else:
        cell.insert(dx.channels.Leak(eLeak=E_PAS))
        leak = "Leak.gLeak"
    for index, region in enumerate(regions):
        capacitance, g_pas, channels = REGIONS[region]
        branch = cell.branch(index)
        branch.set("capacitance", capacitance)
        branch.set(leak, g_pas)
        for suffix, values in channels.items():
            kind = mechanisms[suffix] if mechanisms else getattr(dx.channels, suffix)
            branch.insert(kind(**values))
    cell.set("ena", ENA)
    cell.set("ek", EK)
    return cell


def neuron_cell(branches=BRANCHES):
    """The same cell as NEURON sections (the test mechanisms must be loaded)."""
    from neuron import h

    sections = []
    for index, (parent, region, ncomp, length, radius) in enumerate(branches):
        sec = h.Section(name=f"branch{index}")
        sec.nseg, sec.L, sec.diam = ncomp, length * ncomp, 2 * radius
        sec.Ra = AXIAL_RESISTIVITY
        neuron_region(sec, region)
        if parent >= 0:
            sec.connect(sections[parent](1.0), 0.0)
        sections.append(sec)
    return sections


def compartments(branches=BRANCHES) -> int:
    return int(np.sum([b[2] for b in branches]))


def neuron_region(sec, region: str) -> None:
    """Give the NEURON section `sec` the capacitance, leak and channels of `region`."""
    capacitance, g_pas, channels = REGIONS[region]
    sec.cm = capacitance
    sec.insert("pas")
    for suffix in channels:
        sec.insert(suffix)
    for seg in sec:
        seg.g_pas, seg.e_pas = g_pas, E_PAS
        for suffix, values in channels.items():
            for name, value in values.items():
                setattr(seg, f"{name}_{suffix}", value)
    for ion, value in (("ena", ENA), ("ek", EK)):
        for seg in sec:
            if hasattr(seg, ion):
                setattr(seg, ion, value)


def set_regions(cell: dx.Cell, mechanisms: dict) -> dx.Cell:
    """Give a reconstructed cell (regions soma, axon, basal, apical) the capacitance, leak
    and channels of each region, from `mechanisms` (by suffix, with NEURON's "pas")."""
    cell.insert(mechanisms["pas"](e=E_PAS))
    for region, (capacitance, g_pas, channels) in REGIONS.items():
        selected = cell.region(region)
        selected.set("capacitance", capacitance)
        selected.set("pas.g", g_pas)
        for suffix, values in channels.items():
            selected.insert(mechanisms[suffix](**values))
    cell.set("ena", ENA)
    cell.set("ek", EK)
    return cell
