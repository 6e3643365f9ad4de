: A LINEAR block solved at each step for the tests of NMODL import: a leak whose
: conductance follows two STATEs set by a linear system in v.

NEURON {
    SUFFIX linear_step
    NONSPECIFIC_CURRENT i
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

STATE { p q }

BREAKPOINT {
    SOLVE pair
    i = 0.0001*(p + 2*q)*(v + 80)
}

LINEAR pair {
    ~ 2*p + q = (v + 90)/40
    ~ p - q = 0.1
}
