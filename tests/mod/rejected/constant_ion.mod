: Rejected by NEURON 9's nrnivmodl ("cao used in USEION statement can not be re-declared in
: a CONSTANT block"), as in the cdp5 files of dbbs-mod-collection 2.2.3.
NEURON { SUFFIX constant_ion USEION ca READ cao, cai WRITE ica }
CONSTANT { cao = 2 (mM) }
PARAMETER { g = 0.001 (S/cm2) }
ASSIGNED { v (mV) ica (mA/cm2) cai (mM) }
BREAKPOINT { ica = g*(v - 120)*cai/cao }
