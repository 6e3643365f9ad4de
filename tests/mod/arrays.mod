: Array variables for the tests of NMODL import: the gates' steady states and time
: constants in ASSIGNED arrays filled by a FROM loop, and the time spent in each of four
: voltage bands in an array indexed by a value computed from v (kept from step to step).

NEURON {
    SUFFIX arrays
    NONSPECIFIC_CURRENT i
    RANGE gbar, inf, tau, spent
}

PARAMETER {
    gbar = 0.003 (S/cm2)
    e = -80 (mV)
}

ASSIGNED {
    v (mV)
    dt (ms)
    i (mA/cm2)
    inf[2]
    tau[2] (ms)
    spent[4] (ms)
    level
}

STATE { m h }

INITIAL {
    rates(v)
    m = inf[0]
    h = inf[1]
    FROM k = 0 TO 3 {
        spent[k] = 0
    }
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    level = band(v)
    i = gbar*m*h*(v - e)*(1 + spent[level]/(10 + spent[level]))
}

DERIVATIVE states {
    rates(v)
    level = band(v)
    spent[level] = spent[level] + dt
    m' = (inf[0] - m)/tau[0]
    h' = (inf[1] - h)/tau[1]
}

PROCEDURE rates(v (mV)) {
    FROM k = 0 TO 1 {
        inf[k] = 1/(1 + exp((v - middle(k))/slope(k)))
        tau[k] = 1 + 4*k
    }
}

FUNCTION band(v (mV)) {
    band = floor((v + 95)/30)
    if (band < 0) { band = 0 }
    if (band > 3) { band = 3 }
}

FUNCTION middle(k) (mV) { middle = -40 + 20*k }

FUNCTION slope(k) (mV) {
    if (k == 0) { slope = -6 } else { slope = 8 }
}
