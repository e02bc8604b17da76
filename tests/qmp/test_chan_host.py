#!/usr/bin/python3
# memplugctl host with the memplug channel, against a scripted guest peer
# (fake_guest.py: garbage, oversized lines, a stalled half line, an event
# flood, a refusal, a lie) and a real QEMU (TCG, -S) for the QMP side: plug
# --wait-online and its proof, the memmap plan and --steps, the coordinated
# unplug (no device_del unless the guest proved every block offline), and
# the fallback when no memplugd answers.
import json, os, shutil, subprocess, sys, tempfile, time

ctl = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "faults"))
from qmphold import QMPHold  # noqa: E402
qemu = os.environ.get("MEMPLUG_QEMU", "qemu-system-x86_64")
if not shutil.which(qemu):
    print("SKIP: %s not installed" % qemu)
    sys.exit(77)
fails = 0


def check(cond, what, detail=""):
    global fails
    if cond:
        print("ok: " + what)
    else:
        fails += 1
        print("FAIL: " + what + ("\n" + detail if detail else ""))


class Rig:
    """One QEMU, one fake guest, and a logging QMP proxy in front of QEMU."""

    def __init__(self, mode="online", guest_args=()):
        self.dir = tempfile.mkdtemp(prefix="mp-chan-")
        d = self.dir
        self.log = d + "/log"
        open(self.log, "w").close()
        self.q = subprocess.Popen(
            [qemu, "-accel", "tcg", "-M", "pc,nvdimm=on", "-m", "1G,slots=8,maxmem=16G",
             "-nographic", "-nodefaults", "-S",
             "-qmp", "unix:%s/q.sock,server=on,wait=off" % d,
             "-qmp", "unix:%s/q2.sock,server=on,wait=off" % d],
            stdin=subprocess.DEVNULL, stdout=open(d + "/qemu.log", "w"), stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(d + "/q.sock") and os.path.exists(d + "/q2.sock"):
                break
            time.sleep(0.05)
        self.px = QMPHold(d + "/q.sock", d + "/p.sock", on_command=self.log_qmp)
        self.g = None
        if mode is not None:
            self.g = subprocess.Popen([sys.executable, here + "/fake_guest.py", d + "/chan.sock",
                                       d + "/q2.sock", self.log, "--mode", mode] + list(guest_args))
            for _ in range(200):
                if os.path.exists(d + "/chan.sock"):
                    break
                time.sleep(0.05)

    def log_qmp(self, cmd):
        with open(self.log, "a") as f:
            f.write("%.6f qmp %s\n" % (time.monotonic(), cmd))

    def run(self, *args, channel=True, timeout=120):
        cmd = [ctl, "host", "--qmp", self.dir + "/p.sock"]
        if channel:
            cmd += ["--channel", channel if isinstance(channel, str) else self.dir + "/chan.sock"]
        t = time.monotonic()
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
        p.elapsed = time.monotonic() - t
        return p

    def devices(self):
        p = self.run("-J", "list", channel=False)
        return [d["id"] for d in json.loads(p.stdout)["devices"]]

    def logl(self):
        return open(self.log).read().splitlines()

    def close(self):
        for p in (self.g, self.q):
            if p:
                p.kill()
                p.wait()
        self.px.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def plug128(r, timeout):
    """plug 128M --wait-online -J: the process and its first proof record ({} if none)."""
    p = r.run("-J", "plug", "128M", "--wait-online", "--timeout", str(timeout))
    return p, (js(p).get("proof") or [{}])[0]


def js(p):
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}


def scenario(name, mode, fn, guest_args=()):
    r = Rig(mode, guest_args)
    try:
        fn(r)
    except Exception as e:  # a crash of the test is a failure, with its reason
        check(False, name, repr(e))
    finally:
        r.close()


# --- plug --wait-online: the proof ---
def online(r):
    p = r.run("-J", "plug", "256M", "--wait-online", "--timeout", "30")
    d = js(p)
    check(p.returncode == 0, "online: exit 0", p.stdout + p.stderr)
    pr = (d.get("proof") or [{}])[0]
    check(pr.get("outcome") == "online" and pr.get("device") == "dimm:slot0",
          "online: proof names dimm:slot0", json.dumps(d))
    check(pr.get("verified") == 2 and pr.get("onlined") == 2 and pr.get("expected_blocks") == 2,
          "online: 2 blocks onlined and verified")
    check(pr.get("zone") == "movable" and pr.get("node") == 0 and pr.get("violations") == 0,
          "online: zone, node, violations")
    check(pr.get("blocks") == "memory32-33", "online: blocks from the guest", pr.get("blocks"))
    check(pr.get("guest_timings", {}).get("online_us", 0) > 0 and pr.get("host_ms", -1) >= 0,
          "online: guest and host timings")
    check(d.get("memmap", {}).get("memmap_need") == (256 << 20) // 64, "online: memmap planned")
    p = r.run("plug", "128M", "--wait-online", "--timeout", "30")
    check(p.returncode == 0 and "mp-dimm1: online and verified by the guest: dimm:slot1" in p.stdout,
          "online: text output", p.stdout + p.stderr)
    # proof of devices already there (--qmp + --channel): one, then all
    p = r.run("-J", "proof", "mp-dimm0")
    q = (js(p).get("proofs") or [{}])[0]
    check(p.returncode == 0 and q.get("outcome") == "online" and q.get("device") == "dimm:slot0"
          and q.get("verified") == 2 and q.get("slot") == 0 and q.get("kind") == "dimm",
          "proof: mp-dimm0's proof from the status", p.stdout + p.stderr)
    p = r.run("-J", "proof")
    check(p.returncode == 0 and [x.get("id") for x in js(p).get("proofs", [])] ==
          ["mp-dimm0", "mp-dimm1"], "proof: every device", p.stdout + p.stderr)
    p = r.run("proof", "mp-dimm1")
    check(p.returncode == 0 and "mp-dimm1: proof: online and verified by the guest: dimm:slot1"
          in p.stdout and "zone movable, node 0" in p.stdout, "proof: text", p.stdout + p.stderr)
    p = r.run("proof", "mp-nope")
    check(p.returncode == 1 and "mp-nope" in p.stderr, "proof: no such device, exit 1", p.stderr)
    p = r.run("proof", "mp-dimm0", "mp-dimm1")
    check(p.returncode == 2, "proof: two ids are a usage error", p.stderr)
    # a device plugged without the channel (as virsh attach-device would),
    # then proof --wait for its outcome
    r.run("plug", "256M", channel=False)
    p = r.run("-J", "proof", "mp-dimm2", "--wait", "--timeout", "30")
    q = (js(p).get("proofs") or [{}])[0]
    check(p.returncode == 0 and q.get("outcome") == "online" and q.get("device") == "dimm:slot2",
          "proof --wait: a device plugged by someone else", p.stdout + p.stderr)


scenario("online", "online", online)


def violation(r):
    p, pr = plug128(r, 30)
    check(p.returncode == 64 and pr.get("violations") == 1 and len(pr.get("violation_events")) == 1,
          "violation: exit 64 with the evidence", p.stdout + p.stderr)
    p = r.run("proof", "mp-dimm0")
    check(p.returncode == 1 and "NO PROOF: online WITH VIOLATIONS" in p.stdout,
          "violation: proof exits 1", p.stdout + p.stderr)


scenario("violation", "violation", violation)


def failed(r):
    p, pr = plug128(r, 30)
    check(p.returncode == 1 and pr.get("outcome") == "failed" and "EINVAL" in pr.get("message", ""),
          "failed: exit 1 with the guest's message", p.stdout + p.stderr)
    p = r.run("-J", "proof", "mp-dimm0")
    q = (js(p).get("proofs") or [{}])[0]
    check(p.returncode == 1 and q.get("outcome") == "failed" and "EINVAL" in q.get("message", ""),
          "failed: proof exits 1 with the guest's message", p.stdout + p.stderr)


scenario("failed", "failed", failed)


def silent(r):
    p, pr = plug128(r, 3)
    check(p.returncode == 1 and pr.get("outcome") == "timeout", "silent: timeout, exit 1",
          p.stdout + p.stderr)
    check(pr.get("last_word", {}).get("outcome") == "settling",
          "silent: the last word is the guest's status record", json.dumps(pr))
    p = r.run("-J", "proof", "mp-dimm0")
    q = (js(p).get("proofs") or [{}])[0]
    check(p.returncode == 1 and q.get("outcome") == "pending", "silent: proof is pending, exit 1",
          p.stdout + p.stderr)
    p = r.run("proof", "mp-dimm0", "--wait", "--timeout", "2")
    check(p.returncode == 1 and "no proof in time: the guest's last word on dimm:slot0: settling" in p.stdout,
          "silent: proof --wait times out, exit 1", p.stdout + p.stderr)


scenario("silent", "silent", silent)


def garbage(r):
    p, pr = plug128(r, 30)
    check(p.returncode == 0, "garbage: the real event after the garbage counts", p.stdout + p.stderr)
    check("LineTooLong" in p.stderr and "BadMessage" in p.stderr, "garbage: said", p.stderr)
    check("\x1b" not in p.stdout + p.stderr, "garbage: no control characters printed")


scenario("garbage", "garbage", garbage)


def flood(r):
    p, pr = plug128(r, 30)
    check(p.returncode == 0, "flood: proof despite 2000 events (rate limit, status fallback)",
          p.stdout + p.stderr[-2000:])
    check("events/s" in p.stderr and p.stderr.count("\n") < 60, "flood: rate limit said, boundedly",
          p.stderr[-2000:])


scenario("flood", "flood", flood)


def stall(r):
    p, pr = plug128(r, 4)
    # A hang would be ended by r.run()'s own guard and fail here; how long it took is printed.
    check(p.returncode == 1 and pr.get("outcome") == "timeout",
          "stall: a half line costs the timeout, no hang (%.1f s)" % p.elapsed, p.stdout + p.stderr)


scenario("stall", "stall", stall)


def noevent(r):
    p, pr = plug128(r, 30)
    check(p.returncode == 0 and pr.get("source") == "status", "noevent: proof from the status document",
          p.stdout + p.stderr)


scenario("noevent", "noevent", noevent)


# --- no memplugd answering: works as today, says so ---
def nogreeting(r):
    p = r.run("plug", "128M", "--wait-online")
    check(p.returncode == 0 and "no proof available:" in p.stderr and "no greeting" in p.stderr,
          "nogreeting: plugged, no proof available", p.stdout + p.stderr)
    check(r.devices() == ["mp-dimm0"], "nogreeting: the DIMM is there")
    p = r.run("-J", "proof", "mp-dimm0")
    check(p.returncode == 1 and "no proof available:" in p.stderr
          and "proof_unavailable" in js(p), "nogreeting: proof unavailable, exit 1",
          p.stdout + p.stderr)
    p = r.run("plug", "128M", "--wait-online", channel=r.dir + "/nothing.sock")
    check(p.returncode == 0 and "no proof available:" in p.stderr and "No such file" in p.stderr,
          "no socket: plugged, no proof available", p.stderr)


scenario("nogreeting", "nogreeting", nogreeting)
scenario("halfgreeting", "halfgreeting", lambda r: check(
    "no proof available" in r.run("plug", "128M", "--wait-online").stderr, "half greeting: no proof"))
scenario("badgreeting", "badgreeting", lambda r: check(
    "nodes[0].kernel_free" in r.run("plug", "128M", "--wait-online").stderr,
    "bad greeting: the field is named"))
scenario("protocol2", "online", lambda r: check(
    "protocol 2" in r.run("plug", "128M", "--wait-online").stderr, "protocol 2: refused, said"),
    ["--protocol", "2"])


# --- what the guest can afford ---
def memmap(r):
    p = r.run("plug", "1G", "--wait-online")
    check(p.returncode == 1 and "16M" in p.stderr and "10M" in p.stderr and "--steps" in p.stderr,
          "memmap: 1G refused with the numbers", p.stderr)
    check(r.devices() == [], "memmap: nothing plugged")
    p = r.run("-J", "plug", "1G", "--steps", "--timeout", "30")
    d = js(p)
    check(p.returncode == 0 and len(d.get("plugged", [])) == 4 and
          all(x["outcome"] == "online" for x in d.get("proof", [])),
          "steps: 1G as 4 x 256M, each proven", p.stdout + p.stderr)


scenario("memmap", "online", memmap, ["--kernel-free", str(10 << 20)])


def mom(r):
    p = r.run("plug", "128M", "--wait-online", "--timeout", "30")
    check(p.returncode == 0, "memmap_on_memory 6.1: one-block DIMM fits", p.stderr)
    p = r.run("plug", "256M", "--wait-online")
    check(p.returncode == 1 and "exactly one memory block" in p.stderr,
          "memmap_on_memory 6.1: two-block DIMM refused", p.stderr)


scenario("mom", "online", mom, ["--kernel-free", str(1 << 20), "--mom"])
scenario("mom68", "online", lambda r: check(
    r.run("plug", "1G", "--wait-online", "--timeout", "30").returncode == 0,
    "memmap_on_memory 6.8: 1G DIMM fits"),
    ["--kernel-free", str(1 << 20), "--mom", "--kernel", "6.8.0"])


# --- the coordinated unplug ---
def order(r):
    return [l.split(" ", 1)[1] for l in r.logl()]


def unplug_ok(r):
    r.run("plug", "256M", "--wait-online", "--timeout", "30")
    p = r.run("-J", "unplug", "mp-dimm0", "--timeout", "2")
    ev = order(r)
    i = [k for k, e in enumerate(ev) if e == "answer drained"]
    j = [k for k, e in enumerate(ev) if e == "qmp device_del"]
    check(i and j and i[0] < j[0], "unplug: device_del only after the guest drained", "\n".join(ev))
    check(js(p).get("device") == "dimm:slot0", "unplug: prepare-unplug for dimm:slot0", p.stdout)
    # -S: no guest to eject it, so the unplug times out; the blocks stay drained
    check(p.returncode == 1 and js(p).get("outcome") == "unplug-timeout", "unplug: timeout reported",
          p.stdout + p.stderr)


scenario("unplug-ok", "online", unplug_ok)


def unplug_refuse(r):
    r.run("plug", "256M", "--wait-online", "--timeout", "30")
    p = r.run("unplug", "mp-dimm0", "--timeout", "5")
    check(p.returncode == 1, "refuse: exit 1", p.stdout + p.stderr)
    for s in ("memory33", "EBUSY", "failure to isolate range", "slab 113", "back online"):
        check(s in p.stderr, "refuse: says %s" % s, p.stderr)
    check("qmp device_del" not in order(r), "refuse: no device_del")
    check(r.devices() == ["mp-dimm0"], "refuse: the DIMM stays")
    p = r.run("-J", "unplug", "mp-dimm0", "--timeout", "5")
    d = js(p)
    check(d.get("refusal", {}).get("kpageflags", {}).get("unmovable") == 140 and
          d.get("outcome") == "refused", "refuse: -J carries the evidence", p.stdout)


scenario("unplug-refuse", "refuse", unplug_refuse)


def unplug_lie(r):
    r.run("plug", "256M", "--wait-online", "--timeout", "30")
    p = r.run("unplug", "mp-dimm0", "--timeout", "5")
    check(p.returncode == 1 and "not offline" in p.stderr, "lie: an answer with a block not offline refused",
          p.stderr)
    ev = order(r)
    check("qmp device_del" not in ev and any(e.startswith("request cancel-unplug") for e in ev),
          "lie: no device_del, cancel-unplug sent", "\n".join(ev))


scenario("unplug-lie", "lie", unplug_lie)


def unplug_nochan(r):
    r.run("plug", "128M", channel=False)
    p = r.run("unplug", "mp-dimm0", "--timeout", "1", channel=False)
    check("no proof available: no --channel given" in p.stderr and "qmp device_del" in order(r),
          "no channel: plain device_del, said", p.stderr)


scenario("unplug-nochan", None, unplug_nochan)

print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
