"""`hackserver run --demo`: the example catalogues seeded into an empty event, and a crowd of
simulated participants arriving on the built-in channels. Nothing here runs without --demo."""
