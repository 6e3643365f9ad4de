: Low-threshold Ca current of Pospischil et al. (2008) (Destexhe et al. 1996 kinetics).
: Activation is instantaneous, s_inf(v)^2, evaluated in BREAKPOINT.
NEURON {
    SUFFIX PospischilCaT
    USEION ca READ eca WRITE ica
    RANGE gCaTbar, vx, ica
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gCaTbar = 4e-4 (S/cm2) vx = 2 (mV) }
ASSIGNED { v (mV) eca (mV) ica (mA/cm2) sinf uinf utau (ms) }
STATE { u }
BREAKPOINT {
    SOLVE states METHOD cnexp
    sinf = 1/(1 + exp(-(v + vx + 57)/6.2))
    ica = gCaTbar*sinf*sinf*u*(v - eca)
}
DERIVATIVE states {
    rates(v)
    u' = (uinf - u)/utau
}
INITIAL { rates(v) u = uinf }
PROCEDURE rates(vm (mV)) {
    uinf = 1/(1 + exp((vm + vx + 81)/4))
    utau = (30.8 + (211.4 + exp((vm + vx + 113.2)/5))/(1 + exp((vm + vx + 84)/3.2)))/3.7
}
