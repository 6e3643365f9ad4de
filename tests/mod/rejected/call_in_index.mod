: Rejected by NEURON 9's nrnivmodl ("Illegal integer expression"): an array's index is
: an integer expression (names, whole numbers, + - * /, parentheses, INT()), not a call.
NEURON { POINT_PROCESS call_in_index NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (nA) times[50] count }
BREAKPOINT { i = 0 }
NET_RECEIVE (w) {
    times[fmod(count, 50)] = t
    count = count + 1
}
