: Kv3.1 current (Rettig et al. 1992) as used by Hay et al. (2011).
NEURON {
    SUFFIX SKv3_1
    USEION k READ ek WRITE ik
    RANGE gSKv3_1bar, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gSKv3_1bar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) minf mtau (ms) }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gSKv3_1bar*m*(v - ek)
}
DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
}
INITIAL { rates(v) m = minf }
PROCEDURE rates(vm (mV)) {
    minf = 1/(1 + exp((vm - 18.7)/(-9.7)))
    mtau = 0.2*20/(1 + exp((vm + 46.56)/(-44.14)))
}
