: Na current of Pospischil et al. (2008) (Traub & Miles 1991 kinetics), for dendrax's tests.
NEURON {
    SUFFIX PospischilNa
    USEION na READ ena WRITE ina
    RANGE gNabar, vt, ina
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gNabar = 0.05 (S/cm2) vt = -56.2 (mV) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gNabar*m*m*m*h*(v - ena)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
}
INITIAL { rates(v) m = minf h = hinf }
PROCEDURE rates(vm (mV)) { LOCAL a, b, u
    u = vm - vt
    a = -0.32*(u - 13)/(exp(-(u - 13)/4) - 1)
    b = 0.28*(u - 40)/(exp((u - 40)/5) - 1)
    minf = a/(a + b)
    mtau = 1/(a + b)
    a = 0.128*exp(-(u - 17)/18)
    b = 4/(1 + exp(-(u - 40)/5))
    hinf = a/(a + b)
    htau = 1/(a + b)
}
