#!/usr/bin/python3
"""dpkg-buildpackage -us -uc -b builds memplugctl and memplugd (cached in
BUILDDIR/debian/debs, see build-debs.sh), lintian reports no error, the split
is what docs/debian.md says (a host installs memplugctl without a daemon),
the maintainer scripts enable the unit and start it only through
deb-systemd-invoke under a running systemd, the man pages render without a
groff warning, and the bash completion completes commands, options, blocks
and devices (against a fixture recorded from a real guest)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import debguest  # noqa: E402
from debguest import GuestSkip, SRC  # noqa: E402


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


def contents(deb):
    return [line.split()[-1].lstrip('.') for line in sh('dpkg-deb', '-c', deb).splitlines()
            if not line.startswith('d')]


def test():
    d = debguest.prepare_debs()
    print(open(os.path.join(d, 'times')).read().strip())
    debs = {re.sub(r'_.*', '', os.path.basename(p)): p
            for p in open(os.path.join(d, 'debs')).read().split()}
    assert set(debs) == {'memplugctl', 'memplugd', 'memplugctl-dbgsym', 'memplugd-dbgsym'}, debs

    # lintian: exit 0 means no error-level tag; print what it says.
    lint = open(os.path.join(d, 'lintian.log')).read()
    tags = [line for line in lint.splitlines() if re.match(r'[EWIPX]: ', line)]
    print('lintian:\n  ' + '\n  '.join(tags or ['(no tags)']))
    assert open(os.path.join(d, 'lintian.rc')).read().strip() == '0', lint
    assert not [t for t in tags if t.startswith('E: ')], tags

    ctl, mpd = contents(debs['memplugctl']), contents(debs['memplugd'])
    for f in ('/usr/bin/memplugctl', '/usr/share/man/man8/memplugctl.8.gz',
              '/usr/share/bash-completion/completions/memplugctl',
              '/usr/share/man/man5/memplug-scenario.5.gz',
              '/usr/share/memplug/scenarios/default.scn'):
        assert f in ctl, (f, ctl)
    # The host side's unit (memplug-host@.service: serve a VM's grow
    # requests) is memplugctl's; the guest daemon's is never in it.
    assert '/lib/systemd/system/memplug-host@.service' in ctl, ctl
    assert not [f for f in ctl if 'memplugd' in f], ctl
    assert not [f for f in mpd if 'memplug-host' in f], mpd
    for f in ('/usr/sbin/memplugd', '/lib/systemd/system/memplugd.service',
              '/usr/lib/memplug/policies.d/50-default.conf', '/usr/share/man/man8/memplugd.8.gz',
              '/usr/share/man/man5/memplug-policy.5.gz', '/usr/lib/modules-load.d/memplug.conf',
              '/usr/share/doc/memplugd/examples/20-nvdimm-system-ram.conf'):
        assert f in mpd, (f, mpd)
    assert not [f for f in mpd if f.startswith('/usr/bin/')], mpd
    dirs = [line.split()[-1] for line in sh('dpkg-deb', '-c', debs['memplugd']).splitlines()
            if line.startswith('d')]
    assert './etc/memplug/policies.d/' in dirs, dirs
    dep_ctl = sh('dpkg-deb', '-f', debs['memplugctl'], 'Depends')
    dep_mpd = sh('dpkg-deb', '-f', debs['memplugd'], 'Depends')
    print('memplugctl Depends: ' + dep_ctl.strip())
    print('memplugd Depends: ' + dep_mpd.strip())
    assert 'memplugctl (= ' in dep_mpd, dep_mpd
    # libvirt is dlopen()ed by "host --connect": a guest must not pull it in.
    assert 'libvirt' not in dep_ctl and 'libvirt' not in dep_mpd, (dep_ctl, dep_mpd)
    assert 'libvirt0' in sh('dpkg-deb', '-f', debs['memplugctl'], 'Suggests')

    tmp = tempfile.mkdtemp(prefix='memplug-deb-')
    try:
        sh('dpkg-deb', '-e', debs['memplugd'], os.path.join(tmp, 'ctrl'))
        post = open(os.path.join(tmp, 'ctrl', 'postinst')).read()
        # enabled on install, always; started only under a running systemd
        # and only through deb-systemd-invoke (which asks policy-rc.d)
        assert "deb-systemd-helper enable 'memplugd.service'" in post, post
        m = re.search(r"if \[ -d /run/systemd/system \]; then(.*?)\n\tfi", post, re.S)
        assert m and "deb-systemd-invoke $_dh_action 'memplugd.service'" in m.group(1), post
        assert post.count('deb-systemd-invoke') == 1, post
        prerm = open(os.path.join(tmp, 'ctrl', 'prerm')).read() \
            if os.path.exists(os.path.join(tmp, 'ctrl', 'prerm')) else ''
        postrm = open(os.path.join(tmp, 'ctrl', 'postrm')).read()
        assert 'deb-systemd-helper purge' in postrm, postrm
        print('maintainer scripts: postinst enables, starts via deb-systemd-invoke under '
              'systemd only; prerm %s; postrm purges' % ('stops' if 'stop' in prerm else '-'))

        root = os.path.join(tmp, 'root')
        for p in ('memplugctl', 'memplugd'):
            sh('dpkg-deb', '-x', debs[p], root)
        if shutil.which('groff'):
            for page in ('man8/memplugctl.8.gz', 'man8/memplugd.8.gz', 'man5/memplug-policy.5.gz',
                         'man5/memplug-scenario.5.gz'):
                path = os.path.join(root, 'usr/share/man', page)
                r = subprocess.run('zcat %s | groff -man -Tutf8 -ww -z' % path, shell=True,
                                   stderr=subprocess.PIPE, text=True)
                assert r.returncode == 0 and not r.stderr.strip(), (page, r.stderr)
            print('man pages: render without groff warnings')
        else:
            print('man pages: groff missing, rendering not checked')

        comp = os.path.join(root, 'usr/share/bash-completion/completions/memplugctl')
        bc = '/usr/share/bash-completion/bash_completion'
        if not os.path.exists(bc):
            raise GuestSkip('bash-completion not installed: run tests/install-deps.sh')
        fixture = os.path.join(SRC, 'tests', 'fixtures', 'virtio-mem')
        r = subprocess.run(['bash', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 'completion.sh'), bc, comp, fixture],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(r.stdout)
        assert r.returncode == 0, r.stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    try:
        test()
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(77)
