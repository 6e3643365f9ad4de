: Persistent Na current (Magistretti & Alonso 1999) as used by Hay et al. (2011).
NEURON {
    SUFFIX Nap_Et2
    USEION na READ ena WRITE ina
    RANGE gNap_Et2bar, ina
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gNap_Et2bar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gNap_Et2bar*m*m*m*h*(v - ena)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
}
INITIAL { rates(v) m = minf h = hinf }
PROCEDURE rates(vm (mV)) { LOCAL qt, a, b, u
    qt = 2.3^((34 - 21)/10)  : fixed at 34 degC, as in the published file
    minf = 1/(1 + exp((vm + 52.6)/(-4.6)))
    u = vm
    if (u == -38) { u = u + 0.0001 }
    a = 0.182*(u + 38)/(1 - exp(-(u + 38)/6))
    b = 0.124*(-u - 38)/(1 - exp(-(-u - 38)/6))
    mtau = 6*(1/(a + b))/qt
    hinf = 1/(1 + exp((vm + 48.8)/10))
    u = vm
    if (u == -17) { u = u + 0.0001 }
    if (u == -64.4) { u = u + 0.0001 }
    a = -2.88e-6*(u + 17)/(1 - exp((u + 17)/4.63))
    b = 6.94e-6*(u + 64.4)/(1 - exp(-(u + 64.4)/2.63))
    htau = (1/(a + b))/qt
}
