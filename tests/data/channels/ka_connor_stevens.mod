: The A-current of Connor & Stevens (1971) in the form of Dayan & Abbott (2001, eq. 6.4-6.5),
: written by hand as an independent reference for ka_connor_stevens.yaml (neuroscape tests).
NEURON {
    SUFFIX ka_cs
    NONSPECIFIC_CURRENT i
    RANGE gbar, ea
}
UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}
PARAMETER {
    gbar = 0.0477 (S/cm2)
    ea = -75 (mV)
}
ASSIGNED {
    v (mV)
    i (mA/cm2)
    ainf
    atau (ms)
    binf
    btau (ms)
}
STATE { a b }
BREAKPOINT {
    SOLVE states METHOD cnexp
    i = gbar*a*a*a*b*(v - ea)
}
INITIAL {
    rates(v)
    a = ainf
    b = binf
}
DERIVATIVE states {
    rates(v)
    a' = (ainf - a)/atau
    b' = (binf - b)/btau
}
PROCEDURE rates(v (mV)) {
    ainf = pow(0.0761*exp(0.0314*(v + 94.22))/(1 + exp(0.0346*(v + 1.17))), 1/3)
    atau = 0.3632 + 1.158/(1 + exp(0.0497*(v + 55.96)))
    binf = pow(1/(1 + exp(0.0688*(v + 53.3))), 4)
    btau = 1.24 + 2.678/(1 + exp(0.0624*(v + 50)))
}
