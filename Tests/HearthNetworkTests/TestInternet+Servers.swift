/// The servers of the test "internet", one Python program (Debian python3, standard library only)
/// run inside the internet namespace. It logs every DNS question it receives to `queries.log`, so a
/// test can prove that a refused name never left the host.
enum TestInternetServers {
    static let script = #"""
import socket, struct, sys, threading, os
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

state = sys.argv[1]
ZONE = {
    "allowed.example": "198.51.100.10",
    "other.example": "198.51.100.11",
    "a.pkg.example": "198.51.100.12",
    "b.pkg.example": "198.51.100.13",
}
log_lock = threading.Lock()

def log_query(name, qtype):
    with log_lock:
        with open(os.path.join(state, "queries.log"), "a") as f:
            f.write("%s %d\n" % (name, qtype))

def read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        labels.append(msg[off + 1: off + 1 + n].decode("ascii", "replace").lower())
        off += 1 + n

def dns(s):
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            (qid, flags, qd) = struct.unpack("!HHH", msg[:6])
            name, end = read_name(msg, 12)
            qtype, qclass = struct.unpack("!HH", msg[end:end + 4])
            log_query(name, qtype)
            question = msg[12:end + 4]
            answers = b""
            rcode = 0
            if name.endswith(".pkg.example") and name not in ZONE:
                ZONE_HIT = "198.51.100.12"
            else:
                ZONE_HIT = ZONE.get(name)
            if qtype == 1 and ZONE_HIT:
                rdata = socket.inet_aton(ZONE_HIT)
                answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + rdata
            elif qtype == 16:
                txt = b"tunnel-reply"
                answers = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, len(txt) + 1) + bytes([len(txt)]) + txt
            elif not ZONE_HIT:
                rcode = 3
            count = 1 if answers else 0
            head = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, count, 0, 0)
            s.sendto(head + question + answers, peer)
        except Exception:
            pass

class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from %s\n" % self.server.server_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

def discard(sock):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=lambda c: [None for _ in iter(lambda: c.recv(1 << 20), b"")], args=(conn,), daemon=True).start()

def tcp(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    return s

def udp(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    return s

def udp_echo(s):
    while True:
        msg, peer = s.recvfrom(2048)
        s.sendto(msg, peer)

# Every socket is bound before `ready` is written, so a test that sees it can connect at once.
threads = [threading.Thread(target=dns, args=(udp("198.51.100.53", 53),), daemon=True)]
for a, port in [("198.51.100.10", 80), ("198.51.100.11", 80), ("198.51.100.12", 80), ("198.51.100.13", 80),
                ("203.0.113.80", 80), ("198.51.100.53", 443)]:
    threads.append(threading.Thread(target=ThreadingHTTPServer((a, port), Hello).serve_forever, daemon=True))
threads.append(threading.Thread(target=discard, args=(tcp("198.51.100.10", 9000),), daemon=True))
for port in [9999, 7777]:
    threads.append(threading.Thread(target=udp_echo, args=(udp("198.51.100.10", port),), daemon=True))
for t in threads:
    t.start()
open(os.path.join(state, "ready"), "w").write("ok")
threading.Event().wait()
"""#
}
