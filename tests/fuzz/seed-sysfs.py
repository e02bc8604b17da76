#!/usr/bin/python3
# Converts a recorded fixture (tests/fixtures/NAME, a sysroot recorded from a
# real guest by tests/fixture/record.py) into one input of the sysfs fuzz
# target (fuzz-sysfs.c): "@@ PATH\n" + contents per file, "@> PATH TARGET\n"
# per symlink.  Only what memplug reads is kept (no kpageflags, uevent,
# vmstat...), so an input stays a few KiB and the fuzzer mutates values.
# Usage: seed-sysfs.py FIXTURE_DIR > corpus/sysfs/NAME
import os
import sys

SKIP_NAMES = {'uevent', 'kpageflags.rle', 'kpageflags', 'vmstat', 'numastat',
              'meminfo', 'cpumap', 'distance', 'modalias', 'features'}


def main():
    root = sys.argv[1]
    out = sys.stdout.buffer
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files + [x for x in dirs if os.path.islink(os.path.join(d, x))]):
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if name in SKIP_NAMES:
                continue
            if os.path.islink(p):
                out.write(b'@> %s %s\n' % (rel.encode(), os.readlink(p).encode()))
            elif os.path.isfile(p):
                with open(p, 'rb') as f:
                    out.write(b'@@ %s\n' % rel.encode() + f.read())


main()
