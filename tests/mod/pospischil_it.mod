: The T-type Ca current (Huguenard & McCormick 1992) as used by Pospischil et al. (2008),
: written for dendrax's tests from the equations of IT_huguenard.mod (ModelDB 123623):
: same SUFFIX, PARAMETER names and defaults; m_inf is computed with the state update only
: (held within a step), carev from the ion's cai and cao, and h starts at 0.
NEURON {
    SUFFIX it
    USEION ca READ cai, cao WRITE ica
    GLOBAL q10
    RANGE gcabar, shift, m_inf, carev, ica
}
UNITS {
    (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) (mM) = (milli/liter)
    FARADAY = (faraday) (coulomb)
    R = (k-mole) (joule/degC)
}
PARAMETER {
    gcabar = 0.002 (S/cm2)
    q10 = 3
    shift = 2 (mV)
}
ASSIGNED {
    v (mV) celsius (degC) cai (mM) cao (mM) ica (mA/cm2) carev (mV)
    m_inf h_inf tau_h (ms)
}
STATE { h }
BREAKPOINT {
    SOLVE gates METHOD cnexp
    carev = (1000)*R*(celsius + 273.15)/(2*FARADAY)*log(cao/cai)
    ica = gcabar*m_inf*m_inf*h*(v - carev)
}
INITIAL { h = 0 }
DERIVATIVE gates {
    settle(v)
    h' = (h_inf - h)/tau_h
}
PROCEDURE settle(vm (mV)) { LOCAL x
    x = vm + shift
    m_inf = 1/(1 + exp(-(x + 57)/6.2))
    h_inf = 1/(1 + exp((x + 81)/4))
    tau_h = (30.8 + (211.4 + exp((x + 113.2)/5))/(1 + exp((x + 84)/3.2)))/q10^((celsius - 24)/10)
}
