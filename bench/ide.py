#!/usr/bin/env python3
"""Web IDE benchmarks against a running server, each with its peer measured in the same run.

usage: bench/ide.py --url URL --data DATA [--only echo,output,api,preview] [--n N]
  echo     keystroke echo through the terminal WebSocket, against `runsc exec` of the same
           program with a terminal (stdio a host PTY, as `runsc exec -t` from a terminal) into the same sandbox
  output   `head -c 200M /dev/urandom | base64` through the terminal WebSocket (acknowledging as
           it reads), with the server's RSS sampled throughout
  api      GET /v1/workspaces with wrk, authenticated, against GET /v1/health (no auth) on the same server
  preview  GETs through the preview proxy against the same python http.server run on the host
Prints one JSON object per figure. Standard library only (a minimal WebSocket client is below);
targets 127.0.0.1 only.
"""
import argparse, base64, http.client, json, os, pty, re, shlex, socket, struct, subprocess, sys, tempfile, threading, time, tty, urllib.parse


def pct(values, p):
    values = sorted(values)
    return values[max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))]


class WebSocket:
    """Just enough RFC 6455 for a benchmark client: masked frames out, unfragmented frames in."""

    def __init__(self, host, port, path, token):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("upgrade refused: " + head.decode(errors="replace"))
        self.buffer = bytearray()
        self.pos = 0

    def send_text(self, text, opcode=1):
        payload = text.encode() if isinstance(text, str) else text
        header = bytes([0x80 | opcode])
        n = len(payload)
        header += bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def _read(self, n):
        while len(self.buffer) - self.pos < n:
            if self.pos > (1 << 20):
                del self.buffer[:self.pos]
                self.pos = 0
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        out = bytes(self.buffer[self.pos:self.pos + n])
        self.pos += n
        return out

    def recv(self):
        """Returns (opcode, payload) of the next data or close frame; pings are answered here."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            opcode, payload = b0 & 0x0F, self._read(n)
            if opcode == 9:
                self.send_text(payload, opcode=10)
                continue
            return opcode, payload


class Hearth:
    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.token = u.hostname, u.port, token

    def call(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path} -> {r.status} {data[:200]}")
        return json.loads(data) if data else None

    def terminal(self, ws_id):
        sock = WebSocket(self.host, self.port, f"/v1/workspaces/{ws_id}/ws", self.token)
        sock.send_json({"type": "open", "cols": 120, "rows": 40})
        while True:
            op, payload = sock.recv()
            if op == 1 and json.loads(payload).get("type") == "opened":
                return sock, json.loads(payload)["id"]


def read_until(sock, needle, ack_id=None):
    seen = b""
    while needle not in seen:
        op, payload = sock.recv()
        if op == 2:
            seen += payload[4:]
            if ack_id is not None:
                sock.send_json({"type": "ack", "id": ack_id, "bytes": len(payload) - 4})
    return seen


# The program on the PTY in both paths: raw mode, each read written back upper-cased, so an
# answer proves the bytes went through the sandbox (not a local echo).
UPPER = "import os,termios,tty\ntty.setraw(0, termios.TCSANOW)\nwhile True:\n d=os.read(0,1024)\n os.write(1,d.upper())"


def bench_echo(h, ws_id, data, n):
    sock, tid = h.terminal(ws_id)
    sock.send_json({"type": "input", "id": tid, "data": "exec python3 -c %s\n" % shlex.quote(UPPER)})
    time.sleep(2.0)
    sock.sock.settimeout(0.5)
    try:
        while True:
            op, payload = sock.recv()
            if op == 2:
                sock.send_json({"type": "ack", "id": tid, "bytes": len(payload) - 4})
    except (socket.timeout, TimeoutError):
        pass
    sock.sock.settimeout(None)
    samples = []
    for i in range(n):
        mark = f"k{i:05d}"
        start = time.perf_counter()
        sock.send_json({"type": "input", "id": tid, "data": mark})
        read_until(sock, mark.upper().encode(), ack_id=tid)
        samples.append((time.perf_counter() - start) * 1000)
    sock.send_json({"type": "close", "id": tid})
    hearth = {"p50_ms": round(pct(samples, 50), 3), "p99_ms": round(pct(samples, 99), 3), "n": n}

    # Peer: `runsc exec` of the same program with a terminal, its stdio a host PTY we hold the
    # other end of (what `runsc exec -t` from a terminal does), into the same sandbox.
    with tempfile.TemporaryDirectory() as tmp:
        process = os.path.join(tmp, "process.json")
        json.dump({"terminal": True, "args": ["/usr/bin/python3", "-c", UPPER], "cwd": "/",
                   "env": ["PATH=/usr/bin:/bin", "TERM=xterm"], "user": {"uid": 0, "gid": 0}}, open(process, "w"))
        master, slave = pty.openpty()
        tty.setraw(slave)
        runsc = subprocess.Popen(["runsc", "--root=" + os.path.join(data, "runsc"), "exec", "--process=" + process, ws_id],
                                 stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        time.sleep(2.0)
        os.set_blocking(master, False)
        try:
            while os.read(master, 65536):
                pass
        except BlockingIOError:
            pass
        os.set_blocking(master, True)
        peer = []
        for i in range(n):
            mark = f"k{i:05d}".encode()
            start = time.perf_counter()
            os.write(master, mark)
            seen = b""
            while mark.upper() not in seen:
                seen += os.read(master, 65536)
            peer.append((time.perf_counter() - start) * 1000)
        runsc.kill()
        runsc.wait()
        os.close(master)
        os.close(slave)
    print(json.dumps({"figure": "keystroke echo (6 bytes to a raw PTY and back, upper-cased in the sandbox)", "hearth_terminal_ws": hearth,
                      "runsc_exec_tty": {"p50_ms": round(pct(peer, 50), 3), "p99_ms": round(pct(peer, 99), 3), "n": n}}), flush=True)


def server_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def bench_output(h, ws_id, server_pid, data, mib):
    sock, tid = h.terminal(ws_id)
    read_until(sock, b"#", ack_id=tid)
    rss = [server_rss_mib(server_pid)]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            rss.append(server_rss_mib(server_pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    sock.send_json({"type": "input", "id": tid, "data": f"head -c {mib}M /dev/urandom | base64 -w 76; echo output-done-$((1+1))\n"})
    start = time.perf_counter()
    total, tail = 0, b""
    while b"output-done-2" not in tail:
        op, payload = sock.recv()
        if op == 2:
            total += len(payload) - 4
            tail = (tail + payload[4:])[-64:]
            sock.send_json({"type": "ack", "id": tid, "bytes": len(payload) - 4})
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    sock.send_json({"type": "close", "id": tid})
    # Peer: the same pipeline under `runsc exec` with a terminal, read from a host PTY as fast as possible.
    with tempfile.TemporaryDirectory() as tmp:
        process = os.path.join(tmp, "process.json")
        json.dump({"terminal": True, "args": ["/bin/sh", "-c", f"head -c {mib}M /dev/urandom | base64 -w 76"], "cwd": "/",
                   "env": ["PATH=/usr/bin:/bin"], "user": {"uid": 0, "gid": 0}}, open(process, "w"))
        master, slave = pty.openpty()
        tty.setraw(slave)
        peer_start = time.perf_counter()
        runsc = subprocess.Popen(["runsc", "--root=" + os.path.join(data, "runsc"), "exec", "--process=" + process, ws_id],
                                 stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        peer_bytes = 0
        try:
            while True:
                chunk = os.read(master, 1 << 20)
                if not chunk:
                    break
                peer_bytes += len(chunk)
        except OSError:
            pass
        runsc.wait()
        peer_elapsed = time.perf_counter() - peer_start
        os.close(master)
    print(json.dumps({"figure": f"terminal output ({mib} MiB urandom | base64)", "hearth_terminal_ws": {"bytes": total,
                      "seconds": round(elapsed, 2), "mb_per_s": round(total / elapsed / 1e6, 2),
                      "server_rss_mib_start": round(rss[0], 1), "server_rss_mib_max": round(max(rss), 1)},
                      "runsc_exec_tty": {"bytes": peer_bytes, "seconds": round(peer_elapsed, 2), "mb_per_s": round(peer_bytes / peer_elapsed / 1e6, 2)}}), flush=True)


def wrk(url, token=None, seconds=10):
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", url]
    if token:
        args[1:1] = ["-H", "Authorization: Bearer " + token]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = re.search(r"Latency\s+([\d.]+\w+)", out).group(1)
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    total, took = re.search(r"(\d+) requests in ([\d.]+)s", out).groups()
    # Refusals (429) are answers too; ok_per_s is what was served.
    return {"requests_per_s": round(rate), "ok_per_s": round((int(total) - non2xx) / float(took)), "mean_latency": latency,
            "non_2xx": non2xx}


def bench_api(h, base):
    print(json.dumps({"figure": "API throughput (wrk -t2 -c32 -d10s)", "get_workspaces_authenticated": wrk(base + "/v1/workspaces", h.token),
                      "get_health_no_auth": wrk(base + "/v1/health")}), flush=True)


def get_many(host, port, path, n, headers):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        samples.append((time.perf_counter() - start) * 1000)
        if r.status != 200:
            raise RuntimeError(f"GET {path} -> {r.status}")
        if r.getheader("Connection", "").lower() == "close" or r.version == 10:
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
    return samples, len(body)


def bench_preview(h, ws_id, n):
    conn = http.client.HTTPConnection(h.host, h.port, timeout=60)
    body = json.dumps({"argv": ["sh", "-c", "mkdir -p /srv && head -c 1048576 /dev/urandom > /srv/1m.bin && echo small > /srv/small.txt && cd /srv && (python3 -m http.server 8000 --bind 127.0.0.1 > /dev/null 2>&1 &)"]})
    conn.request("POST", f"/v1/workspaces/{ws_id}/exec", body=body, headers={"Authorization": "Bearer " + h.token, "Content-Type": "application/json"})
    conn.getresponse().read()
    for _ in range(100):
        if any(p["port"] == 8000 for p in h.call("GET", f"/v1/workspaces/{ws_id}/ports")["ports"]):
            break
        time.sleep(0.1)
    # Opening the preview exchanges the token for a grant; the page's requests then use it.
    opener = http.client.HTTPConnection(h.host, h.port, timeout=60)
    opener.request("GET", f"/w/{ws_id}/p/8000/", headers={"Authorization": "Bearer " + h.token})
    opened = opener.getresponse()
    opened.read()
    base = opened.getheader("Location")
    auth = {}
    proxied_small, _ = get_many(h.host, h.port, base + "small.txt", n, auth)
    start = time.perf_counter()
    get_many(h.host, h.port, base + "1m.bin", 50, auth)
    proxied_mb_s = 50 * 1.048576 / (time.perf_counter() - start)
    # Peer: the same server program on the host.
    with tempfile.TemporaryDirectory() as srv:
        open(os.path.join(srv, "small.txt"), "w").write("small\n")
        open(os.path.join(srv, "1m.bin"), "wb").write(os.urandom(1 << 20))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=srv,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        direct_small, _ = get_many("127.0.0.1", port, "/small.txt", n, {})
        start = time.perf_counter()
        get_many("127.0.0.1", port, "/1m.bin", 50, {})
        direct_mb_s = 50 * 1.048576 / (time.perf_counter() - start)
        server.kill()
    print(json.dumps({"figure": "preview proxy (python3 -m http.server)", "n": n,
                      "proxied": {"small_p50_ms": round(pct(proxied_small, 50), 2), "small_p99_ms": round(pct(proxied_small, 99), 2), "1mib_mb_per_s": round(proxied_mb_s, 1)},
                      "direct_on_host": {"small_p50_ms": round(pct(direct_small, 50), 2), "small_p99_ms": round(pct(direct_small, 99), 2), "1mib_mb_per_s": round(direct_mb_s, 1)},
                      "added_p50_ms": round(pct(proxied_small, 50) - pct(direct_small, 50), 2)}), flush=True)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--url", default="http://127.0.0.1:7070")
    a.add_argument("--data", default="/var/lib/hearth")
    a.add_argument("--only", default="echo,output,api,preview")
    a.add_argument("--n", type=int, default=300)
    a.add_argument("--output-mib", type=int, default=200)
    opts = a.parse_args()
    token = open(os.path.join(opts.data, "admin.token")).read().strip()
    h = Hearth(opts.url, token)
    pid = int(subprocess.run(["pgrep", "-f", "hearth serve"], capture_output=True, text=True).stdout.split()[0])
    w = h.call("POST", "/v1/workspaces", {"name": "bench-ide-%d" % os.getpid()})
    try:
        only = opts.only.split(",")
        if "echo" in only: bench_echo(h, w["id"], opts.data, opts.n)
        if "output" in only: bench_output(h, w["id"], pid, opts.data, opts.output_mib)
        if "api" in only: bench_api(h, opts.url)
        if "preview" in only: bench_preview(h, w["id"], opts.n)
    finally:
        h.call("DELETE", "/v1/workspaces/" + w["id"])


if __name__ == "__main__":
    main()
