TITLE Calcium in a shell with a buffer, as a kinetic scheme (written for dendrax's tests)
: cai is ASSIGNED, set from the STATE ca, as in published calcium-diffusion files

NEURON {
    SUFFIX kinetic_buffer
    USEION ca READ ica, cai WRITE cai
    NONSPECIFIC_CURRENT ib
    RANGE total, kon, koff, ib
}

UNITS {
    (mM) = (milli/liter)
    (mA) = (milliamp)
    FARADAY = (faraday) (coulomb)
}

PARAMETER {
    depth = 0.1 (um)
    tau = 20 (ms)
    cainf = 5e-5 (mM)
    total = 0.02 (mM)
    kon = 100 (/mM-ms)
    koff = 0.1 (/ms)
}

ASSIGNED { ica (mA/cm2) cai (mM) bound_rate (mM/ms) ib (mA/cm2) }

STATE { ca (mM) B (mM) CaB (mM) }

INITIAL {
    ca = cainf
    cai = ca
    B = total
    CaB = 0
}

BREAKPOINT {
    SOLVE scheme METHOD sparse
    ib = 0.1*bound_rate  : a current that reports the binding flux f_flux - b_flux
}

KINETIC scheme {
    COMPARTMENT depth {ca}
    COMPARTMENT depth {B CaB}
    ~ ca << (-depth*ica*10000/(2*FARADAY) - depth*(ca - cainf)/tau)
    ~ ca + B <-> CaB (kon, koff)
    bound_rate = f_flux - b_flux
    CONSERVE B + CaB = total*depth
    cai = ca
}
