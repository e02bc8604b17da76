#!/usr/bin/python3
# A scripted guest peer for the memplug channel (docs/channel.md): the one
# place a fake memplugd is right, since a real one never sends garbage,
# oversized or stalled lines, or floods.  It listens on the channel socket
# (where QEMU's chardev would be), watches QEMU's memory devices through a
# second QMP socket, and "onlines" each new DIMM, virtio-mem or NVDIMM the
# way its mode says.  Every request it gets and every answer it sends is
# appended to LOG with a timestamp, so a test can check the order of
# prepare-unplug and device_del.
import json, os, socket, sys, threading, time

BS = 128 << 20


class Guest:
    def __init__(self, chan, qmp, mode, log, kernel_free=700 << 20, mom=False,
                 kernel="6.1.0-57-amd64", delay=0.3, protocol=1):
        self.chan, self.qmp_path, self.mode, self.logf = chan, qmp, mode, log
        self.kernel_free, self.mom, self.kernel = kernel_free, mom, kernel
        self.delay, self.protocol = delay, protocol
        self.devs = {}  # key -> record
        self.lock = threading.Lock()
        self.conn = None

    def log(self, what):
        with open(self.logf, "a") as f:
            f.write("%.6f %s\n" % (time.monotonic(), what))

    def greeting(self):
        return {"protocol": self.protocol, "version": "0.1.0-fake", "kernel": self.kernel,
                "block_size": BS, "memmap_on_memory": self.mom, "auto_online_blocks": "offline",
                "nodes": [{"node": 0, "total": 1 << 30, "free": 800 << 20, "kernel_early": 1 << 30,
                           "movable": 0, "kernel_free": self.kernel_free}],
                "policies": ["/usr/lib/memplug/policies.d/50-default.conf"],
                "capabilities": ["status", "prepare-unplug", "cancel-unplug"],
                "unknown_future_field": {"ignored": True}}

    def send(self, obj_or_bytes):
        b = obj_or_bytes if isinstance(obj_or_bytes, bytes) else (json.dumps(obj_or_bytes) + "\n").encode()
        try:
            self.conn.sendall(b)
        except OSError:
            pass

    def event(self, name, data):
        t = time.time()
        self.send({"event": name, "data": data,
                   "timestamp": {"seconds": int(t), "microseconds": int(t * 1e6) % 1000000}})

    # --- QEMU side: which memory devices exist ---
    def qmp_devices(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.qmp_path)
        f = s.makefile("rw")
        f.readline()
        f.write('{"execute":"qmp_capabilities"}\n'); f.flush(); f.readline()
        f.write('{"execute":"query-memory-devices"}\n'); f.flush()
        while True:
            r = json.loads(f.readline())
            if "return" in r:
                s.close()
                return r["return"]

    def record(self, d):
        t, data = d["type"], d["data"]
        if t == "dimm":
            key = "dimm:slot%d" % data["slot"]
            start, size = data["addr"], data["size"]
        elif t == "virtio-mem":
            key = "virtio-mem:virtio%d" % (len([k for k in self.devs if k.startswith("virtio")]) + 1)
            start, size = data["memaddr"], data["size"]
        else:
            key = "dax:dax%d.0" % len([k for k in self.devs if k.startswith("dax")])
            start, size = data["addr"] + (2 << 20) + (126 << 20), data["size"] - (128 << 20)
        n = size // BS
        first = start // BS
        blocks = "memory%d-%d" % (first, first + n - 1) if n > 1 else "memory%d" % first
        return key, {"device": key, "kind": t, "node": data.get("node", 0), "start": start,
                     "size": size, "blocks": blocks, "outcome": "settling", "policy": "",
                     "zone": "", "message": "", "onlined": 0, "verified": 0,
                     "violations": 0, "failed": 0, "_first": first, "_n": n,
                     "_dimm_id": data.get("id", "")}

    def watch(self):
        seen = set()
        while True:
            try:
                devs = self.qmp_devices()
            except OSError:
                return
            for d in devs:
                ident = d["data"].get("id") or str(d["data"].get("addr"))
                if ident in seen:
                    continue
                seen.add(ident)
                key, rec = self.record(d)
                with self.lock:
                    self.devs[key] = rec
                threading.Timer(self.delay, self.online, (key,)).start()
            time.sleep(0.1)

    def online(self, key):
        rec = self.devs[key]
        n = rec["_n"]
        data = {"device": key, "blocks": rec["blocks"], "zone": "movable", "node": rec["node"],
                "onlined": n, "verified": n, "violations": 0,
                "policy": "/usr/lib/memplug/policies.d/50-default.conf:4",
                "online_us": 12000 + n, "verify_us": 3000, "latency_us": 95000}
        mode = self.mode
        if mode == "silent":
            return
        if mode == "failed":
            rec.update(outcome="failed", message="memory%d: online: EINVAL" % rec["_first"],
                       failed=n)
            self.event("DEVICE_FAILED", {"device": key, "blocks": rec["blocks"], "failed": n,
                                         "violations": 0, "message": rec["message"]})
            return
        if mode == "violation":
            data["violations"] = 1
            self.event("VIOLATION", {"device": key, "block": rec["_first"],
                                     "evidence": "memory%d: slab pages in ZONE_MOVABLE" % rec["_first"]})
        rec.update(outcome="online", zone="movable", onlined=n, verified=n,
                   violations=data["violations"], policy=data["policy"],
                   online_us=data["online_us"], verify_us=3000, latency_us=95000)
        if mode == "garbage":
            self.send(b"this is not json\n")
            self.send(b"[1, 2, 3]\n")
            self.send(b'{"event": 42}\n')
            self.send(b'{"a": 1}\x00{"b": 2}\n')
            self.send(b'{"event": "DEVICE_ONLINE", "data": ' + b'"' + b"x" * 100000 + b'"}\n')
            self.send({"event": "DEVICE_ONLINE", "data": dict(data, node="zero")})
            self.send({"event": "DEVICE_ONLINE", "data": dict(data, blocks="\x1b[31mred")})
            self.send({"return": {"spoofed": True}, "id": "mp-999"})
        if mode == "flood":
            for i in range(2000):
                self.event("DEVICE_CONFLICT", {"device": "dimm:slot99", "message": "flood %d" % i})
        if mode == "stall":
            self.send(b'{"event": "DEVICE_ONLINE", "data": {"device": "')
            return  # and never the rest
        if mode == "noevent":
            return  # only the status document says it
        self.event("DEVICE_ONLINE", data)

    # --- requests ---
    def answer(self, req):
        name, rid = req.get("execute"), req.get("id")
        args = req.get("arguments", {})
        self.log("request %s %s" % (name, json.dumps(args, sort_keys=True)))
        if name == "hello":
            return {"return": self.greeting(), "id": rid}
        if name == "status":
            with self.lock:
                devs = [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.devs.values()]
            return {"return": {"auto_online_blocks": "offline", "devices": devs}, "id": rid}
        if name == "prepare-unplug":
            key = args.get("device")
            rec = self.devs.get(key)
            if not rec:
                return {"error": {"class": "NotFound", "desc": "no device %s" % key}, "id": rid}
            blocks = [{"block": rec["_first"] + i, "outcome": "offlined", "zone_before": "Movable",
                       "zone_after": "", "errno": "", "write_ms": 20} for i in range(rec["_n"])]
            res = {"result": "ok", "timed_out": False, "rollback_failed": False, "rolled_back": 0,
                   "deadline_ms": args.get("timeout_ms", 30000), "elapsed_ms": 61, "blocks": blocks}
            if self.mode == "refuse":
                b = rec["_first"] + 1
                blocks[0]["outcome"] = "rolled back"
                blocks[1].update(outcome="refused", errno="EBUSY")
                for x in blocks[2:]:
                    x["outcome"] = "not tried"
                res.update(result="EBUSY", rolled_back=1, failed={
                    "block": b, "outcome": "refused", "tried": 1, "errno": "EBUSY",
                    "error": "Device or resource busy", "reason_from_kernel": True,
                    "reason": "failure to isolate range",
                    "message": "memory offlining [mem 0x%x-0x%x] failed due to failure to isolate range" % (b * BS, (b + 1) * BS - 1),
                    "kpageflags": {"pfns": 32768, "slab": 113, "pgtable": 0, "reserved": 0,
                                   "unmovable": 140, "lru": 2000, "buddy": 30000}})
                self.log("answer Refused")
                return {"error": {"class": "Refused", "desc": "memory%d refused: EBUSY" % b,
                                  "data": {"device": key, "drain": res}}, "id": rid}
            if self.mode == "lie":
                blocks[-1]["outcome"] = "not tried"  # says ok, but a block is still online
            if self.mode == "hang":
                self.log("answer none")
                return None
            rec["outcome"] = "drained"
            self.log("answer drained")
            return {"return": {"device": key, "drain": res}, "id": rid}
        if name == "cancel-unplug":
            key = args.get("device")
            if key in self.devs:
                self.devs[key]["outcome"] = "online"
            return {"return": {"device": key, "outcome": "online", "message": "back online"}, "id": rid}
        return {"error": {"class": "CommandNotFound", "desc": name}, "id": rid}

    def serve(self):
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(self.chan)
        srv.listen(1)
        threading.Thread(target=self.watch, daemon=True).start()
        while True:
            self.conn, _ = srv.accept()
            self.log("connect")
            if self.mode == "nogreeting":
                continue
            if self.mode == "halfgreeting":
                self.send(b'{"memplug": {"protocol": 1, "block_')
                continue
            if self.mode == "badgreeting":
                g = self.greeting(); g["nodes"][0]["kernel_free"] = "lots"
                self.send({"memplug": g})
            else:
                self.send({"memplug": self.greeting()})
            buf = b""
            while True:
                try:
                    b = self.conn.recv(65536)
                except OSError:
                    break
                if not b:
                    break
                buf += b
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        req = json.loads(line)
                    except ValueError:
                        continue
                    a = self.answer(req)
                    if a is not None:
                        self.send(a)
            self.log("disconnect")


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("chan"); p.add_argument("qmp"); p.add_argument("log")
    p.add_argument("--mode", default="online")
    p.add_argument("--kernel-free", type=int, default=700 << 20)
    p.add_argument("--mom", action="store_true")
    p.add_argument("--kernel", default="6.1.0-57-amd64")
    p.add_argument("--protocol", type=int, default=1)
    a = p.parse_args()
    Guest(a.chan, a.qmp, a.mode, a.log, a.kernel_free, a.mom, a.kernel,
          protocol=a.protocol).serve()
