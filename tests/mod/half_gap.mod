: One side of an ohmic gap junction, the other side's voltage read through a POINTER
: (the half-gap scheme of NEURON's documentation on gap junctions). Written for these tests.

NEURON {
    POINT_PROCESS HalfGap
    POINTER vgap
    RANGE g, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER { g = 0.001 (uS) }

ASSIGNED {
    v (mV)
    vgap (mV)
    i (nA)
}

BREAKPOINT { i = g * (v - vgap) }
