: A synapse that keeps its last 8 spike times and weights in ring buffers, and sums the
: conductances of the last 4 spikes in a FROM loop whose bounds vary at run time.
NEURON { POINT_PROCESS BufferSyn NONSPECIFIC_CURRENT i RANGE tau, gmax, e }
PARAMETER { tau = 3 (ms) gmax = 0.002 (uS) e = 0 (mV) }
ASSIGNED { v (mV) i (nA) times[8] (ms) amounts[8] count g (uS) }
INITIAL {
    count = 0
    FROM k = 0 TO 7 { times[k] = -1e9 amounts[k] = 0 }
}
FUNCTION imax(a, b) { if (a > b) { imax = a } else { imax = b } }
BREAKPOINT {
    LOCAL k, slot, first, last
    g = 0
    first = imax(count - 4, 0)
    last = count - 1
    FROM k = first TO last {
        slot = fmod(k, 8)
        if (t > times[slot]) { g = g + amounts[slot]*exp(-(t - times[slot])/tau) }
    }
    i = gmax*g*(v - e)
}
NET_RECEIVE (weight) {
    LOCAL slot
    slot = fmod(count, 8)
    times[slot] = t
    amounts[slot] = weight
    count = count + 1
}
