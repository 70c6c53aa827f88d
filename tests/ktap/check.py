#!/usr/bin/env python3
# Parses a KTAP file with the kernel's own KTAP parser (kunit_parser.py and kunit_printer.py,
# copied unchanged from Linux 7.3.4's tools/testing/kunit, GPL-2.0), prints what it counted,
# and exits 1 if the parser met anything it could not parse.
#
#   python3 tests/ktap/check.py FILE.ktap
import sys

import kunit_parser
import kunit_printer

with open(sys.argv[1]) as f:
    lines = f.readlines()
test = kunit_parser.parse_run_tests(lines, kunit_printer.Printer(print=False))
c = test.counts
print(f"passed {c.passed} failed {c.failed} crashed {c.crashed} skipped {c.skipped} errors {c.errors}")
sys.exit(1 if c.errors else 0)
