#!/usr/bin/python3
"""Generates a sysroot with N memory blocks for bench/list-vs-lsmem (and, with
--online all --iomem, the control-socket test's large `list`).

By default half the blocks online, half offline, spread over two nodes in
alternating quarters, with the links the kernel makes: memoryN/nodeK ->
../../node/nodeK and node/nodeK/memoryN -> ../../memory/memoryN.  Attribute
contents as a 6.1 guest prints them (drivers/base/memory.c).  Synthetic by
design: no guest has 65,536 blocks here, and lsmem reads the same files.

Usage: gen-blocks.py ROOT N [--online half|all] [--iomem]
"""
import os
import sys


def generate(root, n, all_online=False, iomem=False, bs=128 << 20):
    mem = os.path.join(root, 'sys/devices/system/memory')
    node = os.path.join(root, 'sys/devices/system/node')
    os.makedirs(mem, exist_ok=True)
    for k in (0, 1):
        os.makedirs(os.path.join(node, 'node%d' % k), exist_ok=True)
    for f, v in (('online', '0-1'), ('possible', '0-1')):
        with open(os.path.join(node, f), 'w') as fh:
            fh.write(v + '\n')
    with open(os.path.join(mem, 'block_size_bytes'), 'w') as f:
        f.write('%x\n' % bs)
    with open(os.path.join(mem, 'auto_online_blocks'), 'w') as f:
        f.write('offline\n')
    quarter = max(n // 4, 1)
    for i in range(n):
        d = os.path.join(mem, 'memory%d' % i)
        os.makedirs(d, exist_ok=True)
        online = all_online or i < n // 2
        nd = 0 if (i // quarter) % 2 == 0 else 1
        attrs = {
            'state': 'online' if online else 'offline',
            'online': '1' if online else '0',
            'phys_index': '%08x' % i,
            'phys_device': '0',
            'removable': '1',
            'valid_zones': ('Normal' if online else 'Normal Movable'),
        }
        for k, v in attrs.items():
            with open(os.path.join(d, k), 'w') as f:
                f.write(v + '\n')
        os.symlink('../../node/node%d' % nd, os.path.join(d, 'node%d' % nd))
        os.symlink('../../memory/memory%d' % i, os.path.join(node, 'node%d' % nd, 'memory%d' % i))
    if iomem:
        os.makedirs(os.path.join(root, 'proc'), exist_ok=True)
        with open(os.path.join(root, 'proc/iomem'), 'w') as f:
            f.write('00000000-%08x : System RAM\n' % (n * bs - 1))


if __name__ == '__main__':
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    generate(args[0], int(args[1]), all_online='all' in args[2:], iomem='--iomem' in args[2:])
