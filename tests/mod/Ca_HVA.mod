: High-voltage-activated Ca current (Reuveni et al. 1993) as used by Hay et al. (2011).
NEURON {
    SUFFIX Ca_HVA
    USEION ca READ eca WRITE ica
    RANGE gCa_HVAbar, ica
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gCa_HVAbar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) eca (mV) ica (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ica = gCa_HVAbar*m*m*h*(v - eca)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
}
INITIAL { rates(v) m = minf h = hinf }
PROCEDURE rates(vm (mV)) { LOCAL a, b, u
    u = vm
    if (u == -27) { u = u + 0.0001 }
    a = 0.055*(-27 - u)/(exp((-27 - u)/3.8) - 1)
    b = 0.94*exp((-75 - u)/17)
    minf = a/(a + b)
    mtau = 1/(a + b)
    a = 0.000457*exp((-13 - u)/50)
    b = 0.0065/(exp((-u - 15)/28) + 1)
    hinf = a/(a + b)
    htau = 1/(a + b)
}
