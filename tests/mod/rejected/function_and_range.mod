: Rejected by NEURON 9's nrnivmodl ("alfa used as both variable and function"), as in the
: granule-cell Na files and HCN1__golgi of dbbs-mod-collection 2.2.3.
NEURON { SUFFIX function_and_range NONSPECIFIC_CURRENT i RANGE g, alfa }
PARAMETER { g = 0.001 (S/cm2) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g*alfa(v)*(v + 70) }
FUNCTION alfa(v (mV)) { alfa = exp(v/20) }
