#!/usr/bin/env python3
"""Issue 14's benchmarks: what bounding clients costs. Standard-library Python (wrk for `api`).

Each figure is measured with its peer in the same run, against fresh servers this script starts
(`hearth serve` on 127.0.0.1, one data directory each, the base image shared through --images),
and repeated --reps times; every run is printed as one JSON line.

  rss      server RSS while 100 connections download the same file from a workspace, each
           reading a few bytes a second (slow), against the same 100 reading as fast as they can
           (fast, the peer); each mode on a fresh server, back to back
  health   GET /v1/health latency (P50/P99, one keep-alive client, sequential) while 8 clients
           sign in over and over (bcrypt), against the same with no sign-ins (the peer)
  api      wrk -t2 -c32 -d10s GET /v1/workspaces with a bearer token: rate limits and quotas off
           (`--rate-limit 0`, no quota; the peer), on at a rate above the offered load
           (`--rate-limit 1000000`, a quota set), and on at the defaults (600/s per credential,
           1200/s per address)

  python3 bench/limits.py --hearth .build/debug/hearth --work /var/tmp/hlb --images /work/test-data/images --reps 3
"""
import argparse, http.client, json, os, shutil, socket, subprocess, sys, threading, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ide import pct, server_rss_mib as rss_mib, wrk  # noqa: E402  (the same helpers as the IDE figures)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `hearth serve` of its own: fresh data directory, the shared image store, port from the OS."""

    def __init__(self, opts, name, flags=()):
        self.data = os.path.join(opts.work, f"{name}-{os.getpid()}-{time.monotonic_ns()}")
        os.makedirs(self.data)
        os.symlink(os.path.abspath(opts.images), os.path.join(self.data, "images"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.data + ".log", "w")
        self.proc = subprocess.Popen([opts.hearth, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
                                      "--log-level", "warning", *flags], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 120
        while True:
            try:
                if self.get("/v1/health")[0] == 200 and os.path.exists(self.data + "/admin.token"):
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {self.data}.log")
            time.sleep(0.1)
        self.token = open(self.data + "/admin.token").read().strip()
        self.workspaces = []

    def get(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def call(self, method, path, body=None, headers=None, raw=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        h = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path} -> {r.status} {data[:200]}")
        return data if raw else json.loads(data) if data else None

    def workspace(self, name):
        w = self.call("POST", "/v1/workspaces", {"name": name})
        self.workspaces.append(w["id"])
        return w["id"]

    def stop(self):
        # SIGTERM leaves sandboxes running, so delete ours first.
        for w in self.workspaces:
            try:
                self.call("DELETE", "/v1/workspaces/" + w)
            except Exception as e:  # the figure is already taken; say so and go on
                print(json.dumps({"warning": f"delete {w}: {e}"}), file=sys.stderr)
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


# ---- rss ---------------------------------------------------------------------------------------

def download_request(server, ws, path):
    return (f"GET /v1/workspaces/{ws}/files/content?path={urllib.parse.quote(path)} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {server.token}\r\nConnection: close\r\n\r\n").encode()


def rss_run(opts, mode):
    server = Server(opts, f"rss-{mode}")
    try:
        ws = server.workspace(f"rss-{mode}")
        size = opts.file_mib << 20
        server.call("POST", f"/v1/workspaces/{ws}/exec",
                    {"argv": ["sh", "-c", f"head -c {size} /dev/urandom > /workspace/big"]}, raw=True)  # an exec stream
        request = download_request(server, ws, "/workspace/big")
        pid = server.proc.pid
        time.sleep(1)
        baseline = rss_mib(pid)
        peak = [baseline]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mib(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        socks = []
        for _ in range(opts.connections):
            s = socket.socket()
            if mode == "slow":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", server.port))
            s.sendall(request)
            socks.append(s)
        start = time.monotonic()
        received = [0] * len(socks)
        if mode == "fast":
            def drain(i):
                while True:
                    chunk = socks[i].recv(1 << 18)
                    if not chunk:
                        return
                    received[i] += len(chunk)
            threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(socks))]
            for t in threads: t.start()
            for t in threads: t.join()
        else:
            # A few bytes a second from each, for --hold seconds.
            while time.monotonic() - start < opts.hold:
                for i, s in enumerate(socks):
                    received[i] += len(s.recv(opts.drip))
                time.sleep(1)
        elapsed = time.monotonic() - start
        for s in socks: s.close()
        stop.set()
        sampler.join()
        return {"mode": mode, "connections": len(socks), "file_mib": opts.file_mib, "seconds": round(elapsed, 1),
                "received_mib": round(sum(received) / 1048576, 1), "rss_baseline_mib": round(baseline, 1),
                "rss_peak_mib": round(peak[0], 1), "rss_growth_mib": round(peak[0] - baseline, 1)}
    finally:
        server.stop()


def bench_rss(opts):
    for rep in range(opts.reps):
        fast = rss_run(opts, "fast")
        slow = rss_run(opts, "slow")
        print(json.dumps({"figure": "server RSS, 100 slow readers vs 100 fast", "rep": rep + 1, "fast": fast, "slow": slow,
                          "ratio_peak_slow_over_fast": round(slow["rss_peak_mib"] / fast["rss_peak_mib"], 2)}), flush=True)


# ---- health ------------------------------------------------------------------------------------

def health_latencies(port, seconds):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        conn.request("GET", "/v1/health")
        r = conn.getresponse()
        r.read()
        out.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            raise RuntimeError(f"health -> {r.status}")
    conn.close()
    return out


def summary(ms):
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 2), "p99_ms": round(pct(ms, 99), 2), "max_ms": round(max(ms), 2)}


def bench_health(opts):
    # Sign-ins come through a "proxy" (loopback, trusted) naming a different client each time, so
    # the per-address sign-in limit does not cut the load short: 8 users signing in at once.
    server = Server(opts, "health", ["--trusted-proxy", "127.0.0.0/8", "--rate-limit", "0"])  # the API limiter would answer the health client 429 at over 1,200 req/s
    try:
        email, password = "bench@example.test", "a long benchmark password"
        server.call("POST", "/v1/users", {"email": email, "tenant": None, "role": "member", "password": password})
        body = json.dumps({"email": email, "password": password}).encode()
        for rep in range(opts.reps):
            quiet = health_latencies(server.port, opts.seconds)
            stop = threading.Event()
            counts = {"ok": 0, "other": {}}
            lock = threading.Lock()

            def signer(lane):
                n = 0
                while not stop.is_set():
                    n += 1
                    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
                    conn.request("POST", "/v1/session", body=body, headers={
                        "Content-Type": "application/json", "X-Forwarded-For": f"10.{rep}.{lane}.{n % 250 + 1}"})
                    r = conn.getresponse()
                    r.read()
                    conn.close()
                    with lock:
                        if r.status == 200: counts["ok"] += 1
                        else: counts["other"][r.status] = counts["other"].get(r.status, 0) + 1

            lanes = [threading.Thread(target=signer, args=(i,)) for i in range(8)]
            for t in lanes: t.start()
            time.sleep(1)  # all 8 under way
            loaded = health_latencies(server.port, opts.seconds)
            stop.set()
            for t in lanes: t.join()
            print(json.dumps({"figure": "/v1/health while 8 sign-ins run at once", "rep": rep + 1,
                              "no_signins": summary(quiet), "with_8_signins": summary(loaded),
                              "signins_ok": counts["ok"], "signins_refused": counts["other"],
                              "signins_per_s": round(counts["ok"] / (opts.seconds + 1), 1)}), flush=True)
    finally:
        server.stop()


# ---- api ---------------------------------------------------------------------------------------

def api_run(opts, label, flags, quota):
    server = Server(opts, "api-" + label, flags)
    try:
        if quota:
            server.call("PUT", "/v1/tenants/default/quota", {"workspaces": 100, "cpus": 64, "memory_mib": 65536, "disk_mib": 1 << 20})
        server.workspace("api")  # one workspace in the list, as when bench/ide.py measured 4,532 req/s
        wrk(server.url + "/v1/workspaces", server.token, 2)  # warm-up
        return {"label": label, "flags": " ".join(flags), "quota": quota,
                "get_workspaces": wrk(server.url + "/v1/workspaces", server.token, opts.seconds)}
    finally:
        server.stop()


def bench_api(opts):
    for rep in range(opts.reps):
        off = api_run(opts, "off", ["--rate-limit", "0"], False)
        on = api_run(opts, "on", ["--rate-limit", "1000000"], True)
        default = api_run(opts, "default", [], True)
        base = off["get_workspaces"]["ok_per_s"]
        print(json.dumps({"figure": f"API throughput (wrk -t2 -c32 -d{opts.seconds}s GET /v1/workspaces)", "rep": rep + 1,
                          "off": off, "on": on, "default_limits": default,
                          "ratio_on_over_off": round(on["get_workspaces"]["ok_per_s"] / base, 2),
                          "ratio_default_over_off": round(default["get_workspaces"]["ok_per_s"] / base, 2)}), flush=True)


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--hearth", default=".build/release/hearth")
    a.add_argument("--work", default="/var/tmp/hlb")
    a.add_argument("--images", required=True, help="an image store to share (DATA/images of a server that has the base image)")
    a.add_argument("--only", default="rss,health,api")
    a.add_argument("--reps", type=int, default=3)
    a.add_argument("--seconds", type=int, default=10, help="length of each health window and wrk run")
    a.add_argument("--connections", type=int, default=100)
    a.add_argument("--file-mib", type=int, default=16)
    a.add_argument("--hold", type=int, default=20, help="seconds the slow readers hold their downloads")
    a.add_argument("--drip", type=int, default=4, help="bytes a slow reader reads a second")
    opts = a.parse_args()
    os.makedirs(opts.work, exist_ok=True)
    only = opts.only.split(",")
    print(json.dumps({"machine": f"{os.cpu_count()} cpus", "hearth": opts.hearth, "load": os.getloadavg()}), flush=True)
    if "rss" in only: bench_rss(opts)
    if "health" in only: bench_health(opts)
    if "api" in only: bench_api(opts)


if __name__ == "__main__":
    main()
