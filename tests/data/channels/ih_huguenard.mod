: Ih of Huguenard & McCormick (1992), written by hand as an independent reference for
: ih_huguenard.yaml (neuroscape tests).
NEURON {
    SUFFIX ih_hm
    NONSPECIFIC_CURRENT i
    RANGE gbar, eh
}
UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}
PARAMETER {
    gbar = 0.0002 (S/cm2)
    eh = -43 (mV)
}
ASSIGNED {
    v (mV)
    celsius (degC)
    i (mA/cm2)
    qinf
    qtau (ms)
}
STATE { q }
BREAKPOINT {
    SOLVE states METHOD cnexp
    i = gbar*q*(v - eh)
}
INITIAL {
    rates(v)
    q = qinf
}
DERIVATIVE states {
    rates(v)
    q' = (qinf - q)/qtau
}
PROCEDURE rates(v (mV)) { LOCAL qt
    qt = pow(3, (celsius - 36)/10)
    qinf = 1/(1 + exp((v + 75)/5.5))
    qtau = 1/(qt*(exp(-14.59 - 0.086*v) + exp(-1.87 + 0.0701*v)))
}
