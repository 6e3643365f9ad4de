: A leak whose INITIAL changes two PARAMETERs: NEURON keeps the new values for the run.
NEURON { SUFFIX initial_parameter NONSPECIFIC_CURRENT i RANGE g, e, scale }
PARAMETER { g = 0.0002 (S/cm2) e = -70 (mV) scale = 1 }
ASSIGNED { v (mV) i (mA/cm2) }
INITIAL {
    if (scale < 2) { scale = 3 }
    e = e + 15
}
BREAKPOINT { i = g*scale*(v - e) }
