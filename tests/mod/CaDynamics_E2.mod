: Intracellular Ca in a submembrane shell with first-order removal, as used by Hay et al. (2011).
NEURON {
    SUFFIX CaDynamics_E2
    USEION ca READ ica WRITE cai
    RANGE decay, gamma, minCai, depth
}
UNITS {
    (mV) = (millivolt) (mA) = (milliamp) (um) = (micron)
    (molar) = (1/liter) (mM) = (millimolar)
    FARADAY = (faraday) (coulombs)
}
PARAMETER {
    gamma = 0.05
    decay = 80 (ms)
    depth = 0.1 (um)
    minCai = 1e-4 (mM)
}
ASSIGNED { ica (mA/cm2) }
STATE { cai (mM) }
BREAKPOINT { SOLVE states METHOD cnexp }
DERIVATIVE states {
    cai' = -(10000)*(ica*gamma/(2*FARADAY*depth)) - (cai - minCai)/decay
}
