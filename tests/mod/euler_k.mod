TITLE A potassium channel stepped by forward Euler (written for dendrax's tests)

NEURON {
    SUFFIX euler_k
    USEION k READ ek WRITE ik
    RANGE gbar, ik
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}

PARAMETER { gbar = 0.02 (S/cm2) }

ASSIGNED { v (mV) ek (mV) ik (mA/cm2) }

STATE { n h }

INITIAL {
    n = ninf(v)
    h = 1
}

BREAKPOINT {
    SOLVE states METHOD euler
    ik = gbar*n*n*h*(v - ek)
}

DERIVATIVE states {
    n' = (ninf(v) - n)/(1 + 4*exp(-(v + 50)^2/400))
    h' = 0.02*(1 - h) - 0.01*n*h
}

FUNCTION ninf(v (mV)) { ninf = 1/(1 + exp(-(v + 35)/8)) }
