: A graded chemical synapse for the network parity tests: first-order receptor kinetics
: driven by a sigmoid of the presynaptic voltage, read through a POINTER (Destexhe,
: Mainen and Sejnowski 1994, Neural Computation 6:14-18). Written for these tests.

NEURON {
    POINT_PROCESS GradedSyn
    POINTER vpre
    RANGE gmax, e, alpha, beta, v_half, slope, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    gmax = 0.001 (uS)
    e = 0 (mV)
    alpha = 1.1 (/ms)
    beta = 0.19 (/ms)
    v_half = 2 (mV)
    slope = 5 (mV)
}

ASSIGNED {
    v (mV)
    vpre (mV)
    i (nA)
}

STATE { s }

INITIAL { s = alpha * release() / (alpha * release() + beta) }

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = gmax * s * (v - e)
}

DERIVATIVE states { s' = alpha * release() * (1 - s) - beta * s }

FUNCTION release() { release = 1 / (1 + exp((v_half - vpre) / slope)) }
