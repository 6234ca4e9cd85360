"""`hackserver simulate`: a whole event driven by simulated participants through the public endpoints."""
