#!/bin/sh
# Runs the wire bench (wire_bench.py) with Debian's python3, which has scapy
# (the first python3 on a PATH may not be Debian's). Writes its own JUnit XML
# to $XML_OUTPUT_FILE, one testcase per probe and family.
exec /usr/bin/python3 "$(dirname "$0")/wire_bench.py" "$@"
