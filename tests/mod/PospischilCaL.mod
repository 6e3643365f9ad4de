: High-threshold Ca current of Pospischil et al. (2008) (Reuveni et al. 1993 kinetics).
NEURON {
    SUFFIX PospischilCaL
    USEION ca READ eca WRITE ica
    RANGE gCaLbar, ica
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gCaLbar = 1e-4 (S/cm2) }
ASSIGNED { v (mV) eca (mV) ica (mA/cm2) qinf qtau (ms) rinf rtau (ms) }
STATE { q r }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ica = gCaLbar*q*q*r*(v - eca)
}
DERIVATIVE states {
    rates(v)
    q' = (qinf - q)/qtau
    r' = (rinf - r)/rtau
}
INITIAL { rates(v) q = qinf r = rinf }
PROCEDURE rates(vm (mV)) { LOCAL a, b, u
    u = vm
    if (u == -27) { u = u + 0.0001 }
    a = 0.055*(-27 - u)/(exp((-27 - u)/3.8) - 1)
    b = 0.94*exp((-75 - u)/17)
    qinf = a/(a + b)
    qtau = 1/(a + b)
    a = 0.000457*exp((-13 - u)/50)
    b = 0.0065/(exp((-15 - u)/28) + 1)
    rinf = a/(a + b)
    rtau = 1/(a + b)
}
