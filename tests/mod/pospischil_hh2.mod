: Traub & Miles (1991) Na and K currents as used by Pospischil et al. (2008), written for
: dendrax's tests from the equations of HH_traub.mod (ModelDB 123623): same SUFFIX,
: PARAMETER names, defaults, q10 and initial states (all gates 0).
NEURON {
    SUFFIX hh2
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    RANGE gnabar, gkbar, vtraub, ina, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER {
    gnabar = 0.003 (S/cm2)
    gkbar = 0.005 (S/cm2)
    vtraub = -63 (mV)
}
ASSIGNED {
    v (mV) celsius (degC) ena (mV) ek (mV) ina (mA/cm2) ik (mA/cm2)
    minf mtau (ms) hinf htau (ms) ninf ntau (ms)
}
STATE { m h n }
BREAKPOINT {
    SOLVE gates METHOD cnexp
    ina = gnabar*m*m*m*h*(v - ena)
    ik = gkbar*n*n*n*n*(v - ek)
}
INITIAL { m = 0 h = 0 n = 0 }
DERIVATIVE gates {
    settle(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
    n' = (ninf - n)/ntau
}
FUNCTION linoid(x (mV), k (mV)) (mV) {
    : x/(exp(x/k) - 1) with its limit near x = 0, as the published file guards it
    if (fabs(x/k) < 1e-6) {
        linoid = k*(1 - x/k/2)
    } else {
        linoid = x/(exp(x/k) - 1)
    }
}
PROCEDURE settle(vm (mV)) { LOCAL q, u, a, b
    q = 3^((celsius - 36)/10)
    u = vm - vtraub
    a = 0.32*linoid(13 - u, 4)
    b = 0.28*linoid(u - 40, 5)
    minf = a/(a + b)
    mtau = 1/(a + b)/q
    a = 0.128*exp((17 - u)/18)
    b = 4/(1 + exp((40 - u)/5))
    hinf = a/(a + b)
    htau = 1/(a + b)/q
    a = 0.032*linoid(15 - u, 5)
    b = 0.5*exp((10 - u)/40)
    ninf = a/(a + b)
    ntau = 1/(a + b)/q
}
