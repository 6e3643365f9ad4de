TITLE A channel of an ion species of its own (written for dendrax's tests)

NEURON {
    SUFFIX user_ion
    USEION hcn READ ehcn WRITE ihcn VALENCE 1
    RANGE gbar, ihcn
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
    FARADAY = (faraday) (kilocoulombs)
    R = (k-mole) (joule/degC)
}

PARAMETER { gbar = 0.001 (S/cm2) }

ASSIGNED { v (mV) celsius (degC) ehcn (mV) ihcn (mA/cm2) }

STATE { m }

INITIAL { m = minf(v) }

BREAKPOINT {
    SOLVE states METHOD cnexp
    ihcn = gbar*m*(v - ehcn)
}

DERIVATIVE states { m' = (minf(v) - m)/20 }

FUNCTION minf(v (mV)) {
    minf = 1/(1 + exp(0.5*FARADAY*(v + 60)/(R*(273.15 + celsius))))
}
