: Transient K current (Korngreen & Sakmann 2000, shifted by 10 mV) as used by Hay et al. (2011).
NEURON {
    SUFFIX K_Tst
    USEION k READ ek WRITE ik
    RANGE gK_Tstbar, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gK_Tstbar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gK_Tstbar*m*m*m*m*h*(v - ek)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
}
INITIAL { rates(v) m = minf h = hinf }
PROCEDURE rates(vm (mV)) { LOCAL qt, u
    qt = 2.3^((34 - 21)/10)  : fixed at 34 degC, as in the published file
    u = vm + 10
    minf = 1/(1 + exp(-(u + 0)/19))
    mtau = (0.34 + 0.92*exp(-((u + 71)/59)^2))/qt
    hinf = 1/(1 + exp(-(u + 66)/(-10)))
    htau = (8 + 49*exp(-((u + 73)/23)^2))/qt
}
