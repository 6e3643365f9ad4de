: Rejected by NEURON 9's nrnivmodl ("Illegal integer expression", "FROM intvar = intexpr
: TO intexpr BY intexpr { statements }"): a FROM loop's bounds are integer expressions.
NEURON { SUFFIX call_in_loop_bound NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) n }
BREAKPOINT {
    LOCAL k
    i = 0
    FROM k = 0 TO fmin(n, 7) { i = i + 1e-6 }
}
