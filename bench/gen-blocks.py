#!/usr/bin/python3
"""Generates a sysroot with N memory blocks for bench/list-vs-lsmem.

Half the blocks online, half offline, spread over two nodes in contiguous
halves, with the links the kernel makes: memoryN/nodeK -> ../../node/nodeK and
node/nodeK/memoryN -> ../../memory/memoryN.  Attribute contents as a 6.1
guest prints them (drivers/base/memory.c).  Synthetic by design: no guest
has 65,536 blocks here, and lsmem reads the same files.
"""
import os
import sys

root, n = sys.argv[1], int(sys.argv[2])
bs = 128 << 20
mem = os.path.join(root, 'sys/devices/system/memory')
node = os.path.join(root, 'sys/devices/system/node')
os.makedirs(mem, exist_ok=True)
for k in (0, 1):
    os.makedirs(os.path.join(node, 'node%d' % k), exist_ok=True)
with open(os.path.join(node, 'online'), 'w') as f:
    f.write('0-1\n')
with open(os.path.join(node, 'possible'), 'w') as f:
    f.write('0-1\n')
with open(os.path.join(mem, 'block_size_bytes'), 'w') as f:
    f.write('%x\n' % bs)
with open(os.path.join(mem, 'auto_online_blocks'), 'w') as f:
    f.write('offline\n')
for i in range(n):
    d = os.path.join(mem, 'memory%d' % i)
    os.makedirs(d, exist_ok=True)
    online = i < n // 2
    nd = 0 if (i // (n // 4)) % 2 == 0 else 1
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
