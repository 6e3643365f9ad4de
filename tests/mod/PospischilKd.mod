: Delayed-rectifier K current of Pospischil et al. (2008), for dendrax's tests.
NEURON {
    SUFFIX PospischilKd
    USEION k READ ek WRITE ik
    RANGE gKdbar, vt, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gKdbar = 0.005 (S/cm2) vt = -56.2 (mV) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) ninf ntau (ms) }
STATE { n }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gKdbar*n*n*n*n*(v - ek)
}
DERIVATIVE states {
    rates(v)
    n' = (ninf - n)/ntau
}
INITIAL { rates(v) n = ninf }
PROCEDURE rates(vm (mV)) { LOCAL a, b, u
    u = vm - vt
    a = -0.032*(u - 15)/(exp(-(u - 15)/5) - 1)
    b = 0.5*exp(-(u - 10)/40)
    ninf = a/(a + b)
    ntau = 1/(a + b)
}
