: Slow non-inactivating K current of Pospischil et al. (2008), for dendrax's tests.
NEURON {
    SUFFIX PospischilM
    USEION k READ ek WRITE ik
    RANGE gMbar, tau_max, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gMbar = 7.5e-5 (S/cm2) tau_max = 608 (ms) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) pinf ptau (ms) }
STATE { p }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gMbar*p*(v - ek)
}
DERIVATIVE states {
    rates(v)
    p' = (pinf - p)/ptau
}
INITIAL { rates(v) p = pinf }
PROCEDURE rates(vm (mV)) {
    pinf = 1/(1 + exp(-(vm + 35)/10))
    ptau = tau_max/(3.3*exp((vm + 35)/20) + exp(-(vm + 35)/20))
}
