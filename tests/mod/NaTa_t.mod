: Transient Na current of Colbert & Pan (2002) as used by Hay et al. (2011).
: Written for dendrax's parity tests from the published rate equations.
NEURON {
    SUFFIX NaTa_t
    USEION na READ ena WRITE ina
    RANGE gNaTa_tbar, ina
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gNaTa_tbar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gNaTa_tbar*m*m*m*h*(v - ena)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
}
INITIAL { rates(v) m = minf h = hinf }
PROCEDURE rates(vm (mV)) { LOCAL qt, a, b, u
    qt = 2.3^((34 - 21)/10)  : fixed at 34 degC, as in the published file
    u = vm
    if (u == -38) { u = u + 0.0001 }
    a = 0.182*(u + 38)/(1 - exp(-(u + 38)/6))
    b = 0.124*(-u - 38)/(1 - exp(-(-u - 38)/6))
    minf = a/(a + b)
    mtau = (1/(a + b))/qt
    u = vm
    if (u == -66) { u = u + 0.0001 }
    a = -0.015*(u + 66)/(1 - exp((u + 66)/6))
    b = -0.015*(-u - 66)/(1 - exp((-u - 66)/6))
    hinf = a/(a + b)
    htau = (1/(a + b))/qt
}
