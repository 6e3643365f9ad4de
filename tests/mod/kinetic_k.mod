TITLE A potassium channel as a kinetic scheme (written for dendrax's tests)

NEURON {
    SUFFIX kinetic_k
    USEION k READ ek WRITE ik
    RANGE gbar, ik
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}

PARAMETER { gbar = 0.02 (S/cm2) }

ASSIGNED { v (mV) ek (mV) ik (mA/cm2) a (/ms) b (/ms) }

STATE { C1 C2 O I FROM 0 TO 1 }

INITIAL { SOLVE scheme STEADYSTATE sparse }

BREAKPOINT {
    SOLVE scheme METHOD sparse
    ik = gbar*O*(v - ek)
}

KINETIC scheme {
    rates(v)
    ~ C1 <-> C2 (2*a, b)
    ~ C2 <-> O (a, 2*b)
    ~ O <-> I (0.2, 0.05)
    CONSERVE C1 + C2 + O + I = 1
}

PROCEDURE rates(v (mV)) {
    a = 0.5*exp((v + 40)/15)
    b = 0.2*exp(-(v + 40)/30)
}
