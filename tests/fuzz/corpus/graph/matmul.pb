matmul
a

Äê
b

êÄ*"
matmulmatmulab*

ÄÄ2
cmatmul