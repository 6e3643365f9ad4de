: The L-type Ca current (Reuveni et al. 1993) as used by Pospischil et al. (2008), written
: for dendrax's tests from the equations of IL_gutnick.mod (ModelDB 123623): same SUFFIX,
: PARAMETER names and defaults; carev from the mechanism's own cai and cao (not the ion's,
: as in the published file, which reads eca but does not use it); gates start at 0.
NEURON {
    SUFFIX ical
    USEION ca READ eca WRITE ica
    RANGE gcabar, carev, ica
}
UNITS {
    (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) (mM) = (milli/liter)
    FARADAY = (faraday) (coulomb)
    R = (k-mole) (joule/degC)
}
PARAMETER {
    gcabar = 1e-4 (S/cm2)
    cai = 2.4e-4 (mM)
    cao = 2 (mM)
}
ASSIGNED { v (mV) celsius (degC) eca (mV) ica (mA/cm2) carev (mV) am bm ah bh }
STATE { m h }
BREAKPOINT {
    SOLVE gates METHOD cnexp
    carev = (1000)*R*(celsius + 273.15)/(2*FARADAY)*log(cao/cai)
    ica = gcabar*m*m*h*(v - carev)
}
INITIAL { m = 0 h = 0 }
DERIVATIVE gates {
    settle(v)
    m' = am*(1 - m) - bm*m
    h' = ah*(1 - h) - bh*h
}
PROCEDURE settle(vm (mV)) {
    am = 0.055*(-27 - vm)/(exp((-27 - vm)/3.8) - 1)
    bm = 0.94*exp((-75 - vm)/17)
    ah = 0.000457*exp((-13 - vm)/50)
    bh = 0.0065/(exp((-15 - vm)/28) + 1)
}
