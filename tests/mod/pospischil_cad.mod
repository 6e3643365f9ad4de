: Submembrane Ca with first-order removal (Destexhe et al. 1993) as used by Pospischil et
: al. (2008), written for dendrax's tests from the equations of cadecay_destexhe.mod
: (ModelDB 123623): same SUFFIX, PARAMETER names (kt, kd unused there too), defaults, the
: file's Faraday constant 96489 C/mol, an inward-only drive and backward-Euler steps.
NEURON {
    SUFFIX cad
    USEION ca READ ica, cai WRITE cai
    RANGE depth, taur, cainf, kt, kd
}
UNITS { (mM) = (milli/liter) (um) = (micron) (mA) = (milliamp) }
CONSTANT { F = 96489 (coulomb) }
PARAMETER {
    depth = 0.1 (um)
    taur = 5 (ms)
    cainf = 2e-4 (mM)
    kt = 0 (mM/ms)
    kd = 0 (mM)
}
ASSIGNED { ica (mA/cm2) influx (mM/ms) }
STATE { cai (mM) }
INITIAL { cai = cainf }
BREAKPOINT { SOLVE removal METHOD derivimplicit }
DERIVATIVE removal {
    influx = -(10000)*ica/(2*F*depth)
    if (influx < 0) { influx = 0 }
    cai' = influx + (cainf - cai)/taur
}
