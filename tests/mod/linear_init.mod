: A LINEAR block for the tests of NMODL import: a three-state channel (C <-> O <-> I)
: started at its steady state, which INITIAL solves as a linear system.

NEURON {
    SUFFIX linear_init
    NONSPECIFIC_CURRENT i
    RANGE gbar
}

PARAMETER {
    gbar = 0.004 (S/cm2)
    e = -80 (mV)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
    a (/ms)
    b (/ms)
    c (/ms)
    d (/ms)
}

STATE { C O I }

INITIAL {
    rates(v)
    SOLVE equilibrium
}

BREAKPOINT {
    SOLVE scheme METHOD sparse
    i = gbar*O*(v - e)
}

KINETIC scheme {
    rates(v)
    ~ C <-> O (a, b)
    ~ O <-> I (c, d)
    CONSERVE C + O + I = 1
}

LINEAR equilibrium {
    ~ C*a - O*b = 0
    ~ O*c - I*d = 0
    ~ C + O + I = 1
}

PROCEDURE rates(v (mV)) {
    a = 0.5*exp((v + 50)/15)
    b = 0.2*exp(-(v + 50)/20)
    c = 0.05*exp((v + 40)/25)
    d = 0.02
}
