: A synapse opened by a square pulse of transmitter, written for the tests of NMODL import:
: an event from outside (flag 0) starts the pulse and sends its own connection an event
: `dur` ms later, numbered by the connection's count of events; the pulse ends when the
: event with the latest number arrives, so a pulse that a new event renews lasts `dur` ms
: from that event (net_send, flag and a NET_RECEIVE argument as a counter).

NEURON {
    POINT_PROCESS PulseSyn
    RANGE dur, amp, alpha, beta, e, gmax, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
    (mM) = (milli/liter)
}

PARAMETER {
    dur = 1 (ms)
    amp = 1 (mM)
    alpha = 2 (/ms mM)
    beta = 0.2 (/ms)
    e = 0 (mV)
    gmax = 0.01 (uS)
}

ASSIGNED {
    v (mV)
    i (nA)
    tr (mM)
}

STATE { r }

INITIAL {
    r = 0
    tr = 0
}

BREAKPOINT {
    SOLVE binding METHOD cnexp
    i = gmax * r * (v - e)
}

DERIVATIVE binding { r' = alpha * tr * (1 - r) - beta * r }

NET_RECEIVE(weight, count) {
    INITIAL { count = 0 }
    if (flag == 0) {
        count = count + 1
        tr = amp * weight
        net_send(dur, count)
    } else {
        if (flag == count) { tr = 0 }
    }
}
