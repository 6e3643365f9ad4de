: Low-voltage-activated Ca current (Avery & Johnston 1996; Randall & Tsien 1997) as used by Hay et al. (2011).
NEURON {
    SUFFIX Ca_LVAst
    USEION ca READ eca WRITE ica
    RANGE gCa_LVAstbar, ica
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gCa_LVAstbar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) eca (mV) ica (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ica = gCa_LVAstbar*m*m*h*(v - eca)
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
    minf = 1/(1 + exp((u + 30)/(-6)))
    mtau = (5 + 20/(1 + exp((u + 25)/5)))/qt
    hinf = 1/(1 + exp((u + 80)/6.4))
    htau = (20 + 50/(1 + exp((u + 40)/7)))/qt
}
