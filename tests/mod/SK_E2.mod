: Small-conductance Ca-activated K current (Kohler et al. 1996) as used by Hay et al. (2011).
NEURON {
    SUFFIX SK_E2
    USEION k READ ek WRITE ik
    USEION ca READ cai
    RANGE gSK_E2bar, zTau, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) (mM) = (milli/liter) }
PARAMETER { gSK_E2bar = 0.000001 (S/cm2) zTau = 1 (ms) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) cai (mM) zinf }
STATE { z }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gSK_E2bar*z*(v - ek)
}
DERIVATIVE states {
    rates(cai)
    z' = (zinf - z)/zTau
}
INITIAL { rates(cai) z = zinf }
PROCEDURE rates(c (mM)) { LOCAL u
    u = c
    if (u < 1e-7) { u = u + 1e-7 }
    zinf = 1/(1 + (0.00043/u)^4.8)
}
