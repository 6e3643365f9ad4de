: The cortical M current (Yamada et al. 1989) as used by Pospischil et al. (2008), written
: for dendrax's tests from the equations of IM_cortex.mod (ModelDB 123623): same SUFFIX,
: PARAMETER names, defaults, q10 and initial state (m = 0); exp is computed exactly where
: the published file interpolates it in a table.
NEURON {
    SUFFIX im
    USEION k READ ek WRITE ik
    RANGE gkbar, taumax, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER {
    gkbar = 1e-6 (S/cm2)
    taumax = 1000 (ms)
}
ASSIGNED { v (mV) celsius (degC) ek (mV) ik (mA/cm2) minf mtau (ms) }
STATE { m }
BREAKPOINT {
    SOLVE gates METHOD cnexp
    ik = gkbar*m*(v - ek)
}
INITIAL { m = 0 }
DERIVATIVE gates {
    settle(v)
    m' = (minf - m)/mtau
}
PROCEDURE settle(vm (mV)) { LOCAL peak
    peak = taumax/2.3^((celsius - 36)/10)
    minf = 1/(1 + exp(-(vm + 35)/10))
    mtau = peak/(3.3*exp((vm + 35)/20) + exp(-(vm + 35)/20))
}
