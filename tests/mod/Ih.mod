: Hyperpolarisation-activated cation current (Kole et al. 2006) as used by Hay et al. (2011).
NEURON {
    SUFFIX Ih
    NONSPECIFIC_CURRENT ihcn
    RANGE gIhbar, ehcn, ihcn
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gIhbar = 0.00001 (S/cm2) ehcn = -45 (mV) }
ASSIGNED { v (mV) ihcn (mA/cm2) minf mtau (ms) }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ihcn = gIhbar*m*(v - ehcn)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
}
INITIAL { rates(v) m = minf }
PROCEDURE rates(vm (mV)) { LOCAL a, b, u
    u = vm
    if (u == -154.9) { u = u + 0.0001 }
    a = 0.001*6.43*(u + 154.9)/(exp((u + 154.9)/11.9) - 1)
    b = 0.001*193*exp(u/33.1)
    minf = a/(a + b)
    mtau = 1/(a + b)
}
