: buffer_syn.mod with ring buffers of 500 spike times and amounts (more elements than
: dendrax keeps as a variable each: held whole, one state of shape (sites, 500) each),
: filled in INITIAL by a loop of 500 iterations (run as one loop, not unrolled).
NEURON { POINT_PROCESS LongBufferSyn NONSPECIFIC_CURRENT i RANGE tau, gmax, e }
PARAMETER { tau = 3 (ms) gmax = 0.002 (uS) e = 0 (mV) }
ASSIGNED { v (mV) i (nA) times[500] (ms) amounts[500] count filled g (uS) }
INITIAL {
    count = 0
    FROM k = 0 TO 499 { times[k] = -1e9 amounts[k] = 0 filled = k + 1 }
    times[499] = -2e9
}
FUNCTION imax(a, b) { if (a > b) { imax = a } else { imax = b } }
BREAKPOINT {
    LOCAL k, slot, first, last
    g = 0
    first = imax(count - 4, 0)
    last = count - 1
    FROM k = first TO last {
        slot = fmod(k + 497, 500)
        if (t > times[slot]) { g = g + amounts[slot]*exp(-(t - times[slot])/tau) }
    }
    i = gmax*g*(v - e)
}
NET_RECEIVE (weight) {
    LOCAL slot
    slot = fmod(count + 497, 500)
    times[slot] = t
    amounts[slot] = weight
    count = count + 1
}
