: A conductance synapse whose connections each depress, written for the tests of NMODL
: import: every connection keeps its own fraction of resources, which each of its events
: spends a part of and which recovers exponentially between its events (NET_RECEIVE
: arguments after the weight, set by NET_RECEIVE's INITIAL block and read at the event's
: time t).

NEURON {
    POINT_PROCESS DepressingSyn
    RANGE tau, e, use, trec, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    tau = 3 (ms)
    e = 0 (mV)
    use = 0.4 (1)
    trec = 20 (ms)
}

ASSIGNED {
    v (mV)
    i (nA)
}

STATE { g (uS) }

INITIAL { g = 0 }

BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = g * (v - e)
}

DERIVATIVE decay { g' = -g / tau }

NET_RECEIVE(weight (uS), left, last (ms)) {
    INITIAL {
        left = 1
        last = t - 1000
    }
    left = 1 - (1 - left) * exp(-(t - last) / trec)
    g = g + weight * use * left
    left = left * (1 - use)
    last = t
}
