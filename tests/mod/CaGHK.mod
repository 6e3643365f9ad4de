: A test-only calcium channel with a Goldman-Hodgkin-Katz current, for dendrax's parity tests.
: ica = pbar m^2 GHK(v, cai, cao); m has a simple sigmoid steady state and fixed tau.
NEURON {
    SUFFIX CaGHK
    USEION ca READ cai, cao WRITE ica
    RANGE pbar, ica
}
UNITS {
    (mV) = (millivolt) (mA) = (milliamp) (mM) = (milli/liter)
    FARADAY = (faraday) (coulomb)
    R = (k-mole) (joule/degC)
}
PARAMETER { pbar = 1e-4 (cm/s) mtau = 2 (ms) }
ASSIGNED { v (mV) celsius (degC) cai (mM) cao (mM) ica (mA/cm2) minf }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ica = pbar*m*m*ghk(v, cai, cao)
}
DERIVATIVE states {
    minf = 1/(1 + exp(-(v + 20)/5))
    m' = (minf - m)/mtau
}
INITIAL { minf = 1/(1 + exp(-(v + 20)/5)) m = minf }
UNITSOFF
FUNCTION ghk(vm, ci, co) { LOCAL xi, f
    xi = 2*FARADAY*vm*0.001/(R*(celsius + 273.15))
    if (fabs(xi) < 1e-6) {
        f = 1 + xi/2
    } else {
        f = xi/(1 - exp(-xi))
    }
    ghk = 0.001*2*FARADAY*f*(ci - co*exp(-xi))
}
UNITSON
