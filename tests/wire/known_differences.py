"""Where stackd differs from Linux on the wire today: the only place that
excuses a difference.

KNOWN_DIFFERENCES maps a probe's test case name ("PROBE.ipv4" / "PROBE.ipv6",
see wire_probes.py) to the reason. A listed probe whose records differ counts
as skipped ("known difference"), not passed; a listed probe whose records
match Linux FAILS, so that an entry goes as soon as its fix lands: remove it
in the same change. The values seen when the entry was written are in the
comment after each (Linux vs stackd).
"""

KNOWN_DIFFERENCES = {}
