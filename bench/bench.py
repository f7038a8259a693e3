#!/usr/bin/env python3
"""Hearth benchmarks against a running server, each with its raw-runsc peer measured in the same run.

usage: bench/bench.py --url URL --data DATA [--n N] [--only NAME,...] [--label TEXT] [--agent-dir DIR]
NAME: create, exec, delete, throughput, pause, density (gVisor); qemu-boot, qemu-pause, qemu-density (microVM);
      guest-sync, fork (durable workspaces: the server needs its store, the default).
Prints one JSON object per figure. Uses only the standard library; targets 127.0.0.1 only.
"""
import argparse, http.client, json, os, statistics, struct, subprocess, sys, tempfile, time, urllib.parse

def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]

class Hearth:
    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.token = u.hostname, u.port, token
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)

    def call(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + self.token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        payload = r.read()
        if r.status >= 300:
            raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, payload[:300]))
        return json.loads(payload) if payload else None

    def exec(self, ws, argv, sink=None):
        """Runs argv; returns (exit code, stdout bytes count). Streams without buffering when sink is None."""
        headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        self.conn.request("POST", "/v1/workspaces/%s/exec" % ws, body=json.dumps({"argv": argv}).encode(), headers=headers)
        r = self.conn.getresponse()
        if r.status != 200:
            raise RuntimeError("exec -> %d %s" % (r.status, r.read()[:300]))
        count, code, buf = 0, None, b""
        while True:
            chunk = r.read1(1 << 20) if hasattr(r, "read1") else r.read(1 << 20)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 5:
                kind, n = buf[0], struct.unpack(">I", buf[1:5])[0]
                if len(buf) < 5 + n:
                    break
                payload, buf = buf[5:5 + n], buf[5 + n:]
                if kind == 1:
                    count += n
                    if sink is not None:
                        sink.append(payload)
                elif kind == 3:
                    code = json.loads(payload)["code"]
                elif kind == 5:
                    raise RuntimeError("exec error: %s" % payload)
        return code, count

    def exec_output(self, ws, argv):
        """Runs argv; returns (exit code, stdout as text)."""
        sink = []
        code, _ = self.exec(ws, argv, sink=sink)
        return code, b"".join(sink).decode(errors="replace")

def runsc(data, *args, stdin=subprocess.DEVNULL):
    # stderr goes to a file: a detached sandbox inherits it, and a pipe would never see EOF.
    with tempfile.TemporaryFile() as err:
        r = subprocess.run(["runsc", "--root", data + "/runsc-bench", "--platform", "ptrace", "--network", "none"] + list(args),
                           stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, check=False)
        err.seek(0)
        r.stderr = err.read()
    return r

def image_rootfs(data):
    images = data + "/images"
    for name in os.listdir(images):
        if name.startswith("sha256-") and os.path.exists(os.path.join(images, name, "rootfs/bin")):
            return os.path.join(images, name, "rootfs")
    raise SystemExit("no image in %s; create one workspace first" % images)

def bundle(rootfs, args, memory_mib=1024):
    d = tempfile.mkdtemp(prefix="hearth-bench-bundle-")
    spec = {"ociVersion": "1.0.2", "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
            "env": ["PATH=/usr/bin:/bin"], "cwd": "/"}, "root": {"path": rootfs, "readonly": True},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                      "resources": {"memory": {"limit": memory_mib << 20}}}}
    json.dump(spec, open(os.path.join(d, "config.json"), "w"))
    return d

def emit(**kv):
    print(json.dumps(kv), flush=True)

def bench_create(h, data, n, label):
    rootfs = image_rootfs(data)
    b = bundle(rootfs, ["/bin/true"])
    floor = []
    for i in range(n):
        t = time.perf_counter()
        r = runsc(data, "run", "--bundle", b, "floor-%d" % i)
        floor.append((time.perf_counter() - t) * 1000)
        runsc(data, "delete", "--force", "floor-%d" % i)
        assert r.returncode == 0, r.stderr
    ours, ids = [], []
    for i in range(n):
        t = time.perf_counter()
        w = h.call("POST", "/v1/workspaces", {})
        code, _ = h.exec(w["id"], ["true"])
        ours.append((time.perf_counter() - t) * 1000)
        assert code == 0
        ids.append(w["id"])
        if label == "warm":
            time.sleep(1.5)  # let the pool refill, as between real users' creates
    for i in ids:
        h.call("DELETE", "/v1/workspaces/" + i)
    emit(figure="create_to_first_exec_ms", mode=label, n=n, p50=round(pct(ours, 50), 1), p99=round(pct(ours, 99), 1),
         peer="runsc run true", peer_p50=round(pct(floor, 50), 1), peer_p99=round(pct(floor, 99), 1),
         ratio_p50=round(pct(ours, 50) / pct(floor, 50), 2))

def bench_exec(h, data, n):
    w = h.call("POST", "/v1/workspaces", {})
    for _ in range(5):
        h.exec(w["id"], ["true"])
    ours = []
    for _ in range(n):
        t = time.perf_counter()
        h.exec(w["id"], ["true"])
        ours.append((time.perf_counter() - t) * 1000)
    peer = []
    root = data + "/runsc"
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["runsc", "--root", root, "exec", w["id"], "/bin/true"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peer.append((time.perf_counter() - t) * 1000)
    h.call("DELETE", "/v1/workspaces/" + w["id"])
    emit(figure="exec_round_trip_true_ms", n=n, p50=round(pct(ours, 50), 2), p99=round(pct(ours, 99), 2),
         peer="runsc exec true (same sandbox)", peer_p50=round(pct(peer, 50), 2), ratio_p50=round(pct(ours, 50) / pct(peer, 50), 2))

def bench_throughput(h, data):
    # gVisor keeps file pages in the sandbox's memory, so a 1 GiB file needs more than the default 1 GiB limit.
    w = h.call("POST", "/v1/workspaces", {"memory_mib": 4096})
    h.exec(w["id"], ["sh", "-c", "head -c 1073741824 /dev/zero > /tmp/big"])
    t = time.perf_counter()
    code, count = h.exec(w["id"], ["cat", "/tmp/big"])
    ours = time.perf_counter() - t
    t = time.perf_counter()
    p = subprocess.run(["runsc", "--root", data + "/runsc", "exec", w["id"], "cat", "/tmp/big"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peer = time.perf_counter() - t
    h.call("DELETE", "/v1/workspaces/" + w["id"])
    assert count == 1 << 30 and len(p.stdout) == 1 << 30
    emit(figure="cat_1GiB_MBps", bytes=count, mbps=round(count / ours / 1e6), peer="runsc exec cat (stdout pipe)",
         peer_mbps=round(len(p.stdout) / peer / 1e6), ratio=round(peer / ours, 2))

def bench_download(h, data, n):
    """GET files/content of a 256 MiB file, n times: median MB/s, against `runsc exec cat` of it."""
    w = h.call("POST", "/v1/workspaces", {"memory_mib": 2048})
    size = 256 << 20
    h.exec(w["id"], ["sh", "-c", "head -c %d /dev/urandom > /workspace/big" % size])
    ours, peer = [], []
    for _ in range(n):
        t = time.perf_counter()
        conn = http.client.HTTPConnection(h.host, h.port, timeout=600)
        conn.request("GET", "/v1/workspaces/%s/files/content?path=/workspace/big" % w["id"], headers={"Authorization": "Bearer " + h.token})
        r = conn.getresponse()
        got = 0
        while True:
            chunk = r.read1(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        assert r.status == 200 and got == size, (r.status, got)
        ours.append(size / (time.perf_counter() - t) / 1e6)
        conn.close()
        t = time.perf_counter()
        p = subprocess.run(["runsc", "--root", data + "/runsc", "exec", w["id"], "cat", "/workspace/big"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert len(p.stdout) == size
        peer.append(size / (time.perf_counter() - t) / 1e6)
    h.call("DELETE", "/v1/workspaces/" + w["id"])
    emit(figure="download_256MiB_MBps", n=n, p50=round(pct(ours, 50)), min=round(min(ours)), max=round(max(ours)),
         peer="runsc exec cat (stdout pipe)", peer_p50=round(pct(peer, 50)), ratio_p50=round(pct(ours, 50) / pct(peer, 50), 2))

TOUCH = "import time; b = bytearray(256 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nopen('/tmp/ready', 'w').write('1'); time.sleep(1e9)"

def start_toucher(h, ws, program):
    """Starts `program` (python touching memory, then sleeping) in the background and waits until it is ready."""
    h.exec(ws, ["sh", "-c", "nohup python3 -c \"%s\" >/dev/null 2>&1 &" % program.replace('"', '\\"')])
    while h.exec(ws, ["test", "-e", "/tmp/ready"])[0] != 0:
        time.sleep(0.2)

def bench_pause(h, data, n, gap=0.0):
    w = h.call("POST", "/v1/workspaces", {})
    start_toucher(h, w["id"], TOUCH)
    pauses, resumes = [], []
    size = 0
    for _ in range(n):
        t = time.perf_counter(); h.call("POST", "/v1/workspaces/%s/pause" % w["id"]); pauses.append((time.perf_counter() - t) * 1000)
        ck = "%s/workspaces/%s/checkpoint/checkpoint.img" % (data, w["id"])
        size = os.path.getsize(ck) if os.path.exists(ck) else size
        time.sleep(gap)
        t = time.perf_counter(); h.call("POST", "/v1/workspaces/%s/resume" % w["id"]); resumes.append((time.perf_counter() - t) * 1000)
    h.call("DELETE", "/v1/workspaces/" + w["id"])
    # Peer: the same 256 MiB process in a raw runsc sandbox, checkpointed and restored by hand.
    b = bundle(image_rootfs(data), ["/usr/bin/python3", "-c", TOUCH])
    peer_c, peer_r = [], []
    runsc(data, "run", "--detach", "--bundle", b, "pause-peer")
    time.sleep(3)
    for i in range(n):
        img = tempfile.mkdtemp(prefix="hearth-bench-ck-")
        t = time.perf_counter(); r = runsc(data, "checkpoint", "--image-path", img, "pause-peer"); peer_c.append((time.perf_counter() - t) * 1000)
        assert r.returncode == 0, r.stderr
        runsc(data, "delete", "--force", "pause-peer")
        t = time.perf_counter(); r = runsc(data, "restore", "--detach", "--image-path", img, "--bundle", b, "pause-peer"); peer_r.append((time.perf_counter() - t) * 1000)
        assert r.returncode == 0, r.stderr
        subprocess.run(["rm", "-rf", img])
    runsc(data, "delete", "--force", "pause-peer")
    emit(figure="pause_resume_256MiB_ms", n=n, gap_s=gap, pause_p50=round(pct(pauses, 50)), resume_p50=round(pct(resumes, 50)),
         snapshot_bytes=size, peer="runsc checkpoint / restore", peer_checkpoint_p50=round(pct(peer_c, 50)),
         peer_restore_p50=round(pct(peer_r, 50)))

def bench_delete(h, data, n):
    """Delete of a running workspace, against `runsc delete --force` of a running detached sandbox.
    The peer's sandbox is re-parented to PID 1 when `runsc run --detach` exits, so the peer also
    shows how long this host's PID 1 takes to reap it; Hearth reaps its own (a child subreaper)."""
    ids = []
    for _ in range(n):
        w = h.call("POST", "/v1/workspaces", {})
        h.exec(w["id"], ["true"])
        ids.append(w["id"])
    ours = []
    for i in ids:
        t = time.perf_counter(); h.call("DELETE", "/v1/workspaces/" + i); ours.append((time.perf_counter() - t) * 1000)
    b = bundle(image_rootfs(data), ["/bin/sleep", "1000"])
    peer = []
    for i in range(n):
        r = runsc(data, "run", "--detach", "--bundle", b, "delete-peer-%d" % i)
        assert r.returncode == 0, r.stderr
        t = time.perf_counter(); runsc(data, "delete", "--force", "delete-peer-%d" % i); peer.append((time.perf_counter() - t) * 1000)
    emit(figure="delete_running_ms", n=n, p50=round(pct(ours, 50), 1), p99=round(pct(ours, 99), 1),
         peer="runsc delete --force (detached sandbox)", peer_p50=round(pct(peer, 50), 1),
         ratio_p50=round(pct(ours, 50) / pct(peer, 50), 2))

def pss_kib(pid):
    try:
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def total_pss_kib(belongs):
    """Sum of PSS over every process whose command line `belongs` to the workspaces measured."""
    total = 0
    for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        try:
            cmd = open("/proc/%d/cmdline" % pid, "rb").read()
        except OSError:
            continue
        if belongs(cmd):
            total += pss_kib(pid)
    return total

def bench_density(h, data, n):
    ids = [h.call("POST", "/v1/workspaces", {})["id"] for _ in range(n)]
    time.sleep(5)
    total = total_pss_kib(lambda cmd: (data + "/runsc").encode() in cmd)
    for i in ids:
        h.call("DELETE", "/v1/workspaces/" + i)
    per = total / n / 1024
    avail = int(open("/proc/meminfo").read().split("MemTotal:")[1].split()[0]) / 1024
    emit(figure="idle_density", workspaces=n, pss_mib_per_workspace=round(per, 1),
         fits_in_memory=int(avail * 0.9 / per), host_memory_mib=int(avail))

def qemu_mode(h):
    for r in h.call("GET", "/v1/runtimes")["runtimes"]:
        if r["runtime"] == "qemu":
            return r.get("mode") if r["available"] else None
    return None

def bench_qemu_boot(h, data, n, agent_dir):
    """create -> first exec of a microVM, against raw QEMU booting the same kernel and initramfs to userspace."""
    mode = qemu_mode(h)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        w = h.call("POST", "/v1/workspaces", {"runtime": "qemu", "memory_mib": 256})
        code, _ = h.exec(w["id"], ["true"])
        times.append((time.perf_counter() - t) * 1000)
        assert code == 0
        h.call("DELETE", "/v1/workspaces/" + w["id"])
    assets = os.path.realpath(agent_dir + "/microvm/current")
    accel = ["-accel", "kvm", "-cpu", "host"] if mode == "kvm" else ["-accel", "tcg,tb-size=64"]
    append = "console=ttyS0 panic=-1 quiet hearth.probe"
    if mode == "tcg":
        # The same TSC hints Hearth gives a TCG guest; without them a busy host can hang its calibration.
        khz = int(float(next(l for l in open("/proc/cpuinfo") if l.startswith("cpu MHz")).split(":")[1]) * 1000)
        append += " tsc_early_khz=%d lpj=%d" % (khz, khz * 1000 // 250)
    peer = []
    for _ in range(n):
        log = tempfile.mktemp(prefix="hearth-bench-console-")
        t = time.perf_counter()
        subprocess.run(["qemu-system-x86_64", "-machine", "microvm,x-option-roms=off", *accel, "-m", "256M", "-smp", "1",
                        "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none", "-no-reboot",
                        "-kernel", assets + "/vmlinuz", "-initrd", assets + "/initramfs.img",
                        "-append", append, "-serial", "file:" + log], timeout=120, check=True)
        peer.append((time.perf_counter() - t) * 1000)
        assert "probe ok" in open(log).read()
        os.unlink(log)
    emit(figure="microvm_boot_to_agent_ms", mode=mode, n=n, p50=round(pct(times, 50)), p99=round(pct(times, 99)),
         peer="raw qemu-system-x86_64, same kernel+initramfs, to userspace and power-off (no disks, no jail)",
         peer_p50=round(pct(peer, 50)), ratio=round(pct(times, 50) / pct(peer, 50), 2))

def bench_qemu_pause(h, data, n, label):
    mode = qemu_mode(h)
    w = h.call("POST", "/v1/workspaces", {"runtime": "qemu", "memory_mib": 256})
    start_toucher(h, w["id"], TOUCH.replace("256 << 20", "100 << 20"))
    pauses, resumes, size = [], [], 0
    for _ in range(n):
        t = time.perf_counter(); h.call("POST", "/v1/workspaces/%s/pause" % w["id"]); pauses.append((time.perf_counter() - t) * 1000)
        state = "%s/workspaces/%s" % (data, w["id"])
        size = os.path.getsize(state + "/snapshot.bin")
        if os.path.exists(state + "/vm/memory.ram"):  # --qemu-memory file: RAM is kept in this file, allocated pages only
            size += os.stat(state + "/vm/memory.ram").st_blocks * 512
        t = time.perf_counter(); h.call("POST", "/v1/workspaces/%s/resume" % w["id"]); resumes.append((time.perf_counter() - t) * 1000)
        assert h.exec(w["id"], ["test", "-e", "/tmp/ready"])[0] == 0
    h.call("DELETE", "/v1/workspaces/" + w["id"])
    emit(figure="microvm_pause_resume_ms", mode=mode, memory=label, guest_mib=256, touched_mib=100, n=n, pause_p50=round(pct(pauses, 50)),
         resume_p50=round(pct(resumes, 50)), snapshot_bytes=size)

def bench_qemu_density(h, data, n):
    mode = qemu_mode(h)
    ids = [h.call("POST", "/v1/workspaces", {"runtime": "qemu", "memory_mib": 256})["id"] for _ in range(n)]
    time.sleep(10)
    total = total_pss_kib(lambda cmd: cmd.startswith(b"/usr/bin/qemu-system") and any(("hearth-" + i).encode() in cmd for i in ids))
    for i in ids:
        h.call("DELETE", "/v1/workspaces/" + i)
    per = total / n / 1024
    avail = int(open("/proc/meminfo").read().split("MemTotal:")[1].split()[0]) / 1024
    emit(figure="microvm_idle_density", mode=mode, guest_mib=256, microvms=n, pss_mib_per_microvm=round(per, 1),
         fits_in_memory=int(avail * 0.9 / per), host_memory_mib=int(avail))

def bench_guest_sync(h, n):
    """`hearth-sync` inside a workspace, timed inside it, after a one-line write; peer: the same
    barrier over REST (`POST /sync`), timed by the client. Each call follows the last by 1.2 s, past
    the server's spacing of guest-asked commits (1 s), so none waits for it."""
    w = h.call("POST", "/v1/workspaces", {})
    inside, rest = [], []
    for i in range(n):
        code, out = h.exec_output(w["id"], ["sh", "-c",
            "echo %d > /workspace/f; s=$(date +%%s%%N); hearth-sync >/dev/null || exit 9; e=$(date +%%s%%N); echo $((e-s))" % i])
        assert code == 0, out
        inside.append(int(out.strip()) / 1e6)
        time.sleep(1.2)
        h.exec(w["id"], ["sh", "-c", "echo r%d > /workspace/g" % i])
        t = time.perf_counter()
        h.call("POST", "/v1/workspaces/%s/sync" % w["id"])
        rest.append((time.perf_counter() - t) * 1000)
        time.sleep(1.2)
    h.call("DELETE", "/v1/workspaces/" + w["id"])
    emit(figure="hearth_sync_round_trip_ms", n=n, p50=round(pct(inside, 50), 1), p99=round(pct(inside, 99), 1),
         peer="POST /v1/workspaces/{ws}/sync", peer_p50=round(pct(rest, 50), 1), peer_p99=round(pct(rest, 99), 1))

def bench_fork(h, n):
    """Fork of a running workspace (files only: a sync, then a restore into the new one's disk),
    request to the fork's first exec; peer: a cold create to its first exec, in the same run."""
    src = h.call("POST", "/v1/workspaces", {})
    code, _ = h.exec(src["id"], ["sh", "-c", "mkdir -p /workspace/src && for i in $(seq 1 200); do head -c 4096 /dev/urandom > /workspace/src/f$i; done"])
    assert code == 0
    forks, creates, ids = [], [], []
    for i in range(n):
        t = time.perf_counter()
        f = h.call("POST", "/v1/workspaces/%s/fork" % src["id"], {})
        code, _ = h.exec(f["id"], ["true"])
        forks.append((time.perf_counter() - t) * 1000)
        assert code == 0
        ids.append(f["id"])
        t = time.perf_counter()
        c = h.call("POST", "/v1/workspaces", {})
        code, _ = h.exec(c["id"], ["true"])
        creates.append((time.perf_counter() - t) * 1000)
        ids.append(c["id"])
    for i in ids + [src["id"]]:
        h.call("DELETE", "/v1/workspaces/" + i)
    emit(figure="fork_to_first_exec_ms", n=n, files=200, p50=round(pct(forks, 50), 1), p99=round(pct(forks, 99), 1),
         peer="create to first exec", peer_p50=round(pct(creates, 50), 1), peer_p99=round(pct(creates, 99), 1),
         ratio_p50=round(pct(forks, 50) / pct(creates, 50), 2))

def bench_agent_rewind(h, n):
    """Agent sessions (issue 18): rewind of a running workspace's session to step 0, request to
    the first exec after it; peer: the same by hand over REST (stop, rollback, start) to the first
    exec. Fork of the session at step 0 to its workspace's first exec; peer: a workspace fork at
    that generation to its first exec. Step 0 is made by a session's first message (its turn then
    fails on a closed port: no model is needed to make the step). Needs the server started with
    `--agent-provider-allow 127.0.0.0/8`."""
    h.call("PUT", "/v1/agent-providers/bench", {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"})
    w = h.call("POST", "/v1/workspaces", {})
    code, _ = h.exec(w["id"], ["sh", "-c", "mkdir -p /workspace/src && for i in $(seq 1 200); do head -c 4096 /dev/urandom > /workspace/src/f$i; done"])
    assert code == 0
    s = h.call("POST", "/v1/agent-sessions", {"provider": "bench", "model": "m", "workspace": w["id"]})
    t = time.perf_counter()
    h.call("POST", "/v1/agent-sessions/%s/messages" % s["id"], {"text": "x"})
    first_send = (time.perf_counter() - t) * 1000
    def idle():
        for _ in range(600):
            if h.call("GET", "/v1/agent-sessions/" + s["id"])["state"] == "idle": return
            time.sleep(0.05)
        raise RuntimeError("the session's turn did not end")
    idle()
    step = h.call("GET", "/v1/agent-sessions/%s/steps" % s["id"])["steps"][0]
    generation = step["generation"]
    rewinds, manual, forks, wforks, ids = [], [], [], [], []
    def rewind(i):
        h.exec(w["id"], ["sh", "-c", "echo %d > /workspace/src/f1" % i])
        t = time.perf_counter()
        h.call("POST", "/v1/agent-sessions/%s/rewind" % s["id"], {"step": 0})
        code, _ = h.exec(w["id"], ["true"])
        rewinds.append((time.perf_counter() - t) * 1000)
        assert code == 0
    def by_hand(i):
        h.exec(w["id"], ["sh", "-c", "echo m%d > /workspace/src/f1" % i])
        t = time.perf_counter()
        h.call("POST", "/v1/workspaces/%s/stop" % w["id"])
        h.call("POST", "/v1/workspaces/%s/rollback" % w["id"], {"generation": generation})
        h.call("POST", "/v1/workspaces/%s/start" % w["id"])
        code, _ = h.exec(w["id"], ["true"])
        manual.append((time.perf_counter() - t) * 1000)
        assert code == 0
    for i in range(n):
        # Alternated, and after a pause, so neither follows the deletes that end the last round.
        time.sleep(3)
        for f in ([rewind, by_hand] if i % 2 == 0 else [by_hand, rewind]): f(i)
        t = time.perf_counter()
        f = h.call("POST", "/v1/agent-sessions/%s/fork" % s["id"], {"step": 0})
        code, _ = h.exec(f["workspace"], ["true"])
        forks.append((time.perf_counter() - t) * 1000)
        ids.append(f["workspace"])
        h.call("DELETE", "/v1/agent-sessions/" + f["id"])
        t = time.perf_counter()
        g = h.call("POST", "/v1/workspaces/%s/fork" % w["id"], {"generation": generation})
        code, _ = h.exec(g["id"], ["true"])
        wforks.append((time.perf_counter() - t) * 1000)
        ids.append(g["id"])
        for x in ids: h.call("DELETE", "/v1/workspaces/" + x)
        ids = []
    later = []
    for i in range(n):
        t = time.perf_counter()
        h.call("POST", "/v1/agent-sessions/%s/messages" % s["id"], {"text": "y%d" % i})
        later.append((time.perf_counter() - t) * 1000)
        idle()
    h.call("DELETE", "/v1/agent-sessions/" + s["id"])
    h.call("DELETE", "/v1/workspaces/" + w["id"])
    emit(figure="agent_rewind_to_first_exec_ms", n=n, files=200, p50=round(pct(rewinds, 50), 1), p99=round(pct(rewinds, 99), 1),
         peer="stop + rollback + start over REST, to first exec", peer_p50=round(pct(manual, 50), 1), peer_p99=round(pct(manual, 99), 1),
         ratio_p50=round(pct(rewinds, 50) / pct(manual, 50), 2))
    emit(figure="agent_fork_to_first_exec_ms", n=n, p50=round(pct(forks, 50), 1), p99=round(pct(forks, 99), 1),
         peer="workspace fork at the same generation, to first exec", peer_p50=round(pct(wforks, 50), 1), peer_p99=round(pct(wforks, 99), 1),
         ratio_p50=round(pct(forks, 50) / pct(wforks, 50), 2))
    emit(figure="agent_first_send_with_step0_ms", n=1, value=round(first_send, 1), peer="a later send (step 0 exists)",
         peer_p50=round(pct(later, 50), 1), peer_p99=round(pct(later, 99), 1))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:7070")
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--only", default="create,exec,throughput,pause,density")
    ap.add_argument("--label", default="cold")
    ap.add_argument("--agent-dir", default=os.path.join(os.path.dirname(__file__), "..", ".build", "hearth-agent"))
    a = ap.parse_args()
    token = open(a.data + "/admin.token").read().strip()
    h = Hearth(a.url, token)
    only = a.only.split(",")
    os.makedirs(a.data + "/runsc-bench", exist_ok=True)
    if "create" in only: bench_create(h, a.data, a.n, a.label)
    if "exec" in only: bench_exec(h, a.data, a.n)
    if "delete" in only: bench_delete(h, a.data, min(a.n, 20))
    if "throughput" in only: bench_throughput(h, a.data)
    if "download" in only: bench_download(h, a.data, min(a.n, 10))
    if "pause" in only:
        bench_pause(h, a.data, 5, gap=0.0)
        bench_pause(h, a.data, 5, gap=2.0)
    if "density" in only: bench_density(h, a.data, 20)
    if "qemu-boot" in only: bench_qemu_boot(h, a.data, min(a.n, 10), a.agent_dir)
    if "qemu-pause" in only: bench_qemu_pause(h, a.data, 5, a.label)
    if "qemu-density" in only: bench_qemu_density(h, a.data, 5)
    if "guest-sync" in only: bench_guest_sync(h, min(a.n, 30))
    if "fork" in only: bench_fork(h, min(a.n, 20))
    if "agent-rewind" in only: bench_agent_rewind(h, min(a.n, 20))

if __name__ == "__main__":
    main()
