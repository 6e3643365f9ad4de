: Persistent K current (Korngreen & Sakmann 2000, shifted by 10 mV) as used by Hay et al. (2011).
NEURON {
    SUFFIX K_Pst
    USEION k READ ek WRITE ik
    RANGE gK_Pstbar, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gK_Pstbar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gK_Pstbar*m*m*h*(v - ek)
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
    minf = 1/(1 + exp(-(u + 1)/12))
    if (u < -50) {
        mtau = (1.25 + 175.03*exp(-u*(-0.026)))/qt
    } else {
        mtau = (1.25 + 13*exp(-u*0.026))/qt
    }
    hinf = 1/(1 + exp(-(u + 54)/(-11)))
    htau = (360 + (1010 + 24*(u + 55))*exp(-((u + 75)/48)^2))/qt
}
