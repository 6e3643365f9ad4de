: Muscarinic K current (Adams et al. 1982) as used by Hay et al. (2011).
NEURON {
    SUFFIX Im
    USEION k READ ek WRITE ik
    RANGE gImbar, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gImbar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) minf mtau (ms) }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gImbar*m*(v - ek)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
}
INITIAL { rates(v) m = minf }
PROCEDURE rates(vm (mV)) { LOCAL qt, a, b
    qt = 2.3^((34 - 21)/10)  : fixed at 34 degC, as in the published file
    a = 3.3e-3*exp(2.5*0.04*(vm + 35))
    b = 3.3e-3*exp(-2.5*0.04*(vm + 35))
    minf = a/(a + b)
    mtau = (1/(a + b))/qt
}
