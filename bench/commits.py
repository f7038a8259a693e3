#!/usr/bin/env python3
"""Issue 16: the cost of committing an unchanged workspace, against restic's backup of the same
unchanged layer, measured in the same run.

usage: sudo bench/commits.py --url URL --data DATA [--files 30000] [--n 20]
The server must run with a store (the default). Prints one JSON object per figure. Standard
library only; targets 127.0.0.1 only.
"""
import argparse, json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Hearth, pct  # noqa: E402


def server_cpu_seconds(data):
    """utime + stime of the `hearth serve` process whose --data is DATA."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 1 and cmd[0].endswith(b"hearth") and b"serve" in cmd and data.encode() in cmd:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError("no hearth serve process with --data " + data)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--url", required=True)
    args.add_argument("--data", required=True)
    args.add_argument("--files", type=int, default=30000)
    args.add_argument("--n", type=int, default=20)
    opts = args.parse_args()
    token = open(os.path.join(opts.data, "admin.token")).read().strip()
    h = Hearth(opts.url, token)
    w = h.call("POST", "/v1/workspaces", {"name": "bench-commits", "runtime": "gvisor", "commit_interval_s": 0})
    ws = w["id"]
    try:
        # 30,000 small files in 300 directories, as a source tree might be.
        script = ("import os\nfor d in range(%d):\n    os.makedirs(f'/workspace/src/d{d}', exist_ok=True)\n"
                  "    for f in range(100):\n        open(f'/workspace/src/d{d}/f{f}.txt', 'w').write(f'{d}-{f}\\n')\n") % (opts.files // 100)
        code, _ = h.exec(ws, ["python3", "-c", script])
        assert code == 0, "could not make the files"
        first = h.call("POST", f"/v1/workspaces/{ws}/sync")
        walls, cpu_before = [], server_cpu_seconds(opts.data)
        for _ in range(opts.n):
            started = time.perf_counter()
            result = h.call("POST", f"/v1/workspaces/{ws}/sync")
            walls.append((time.perf_counter() - started) * 1000)
            assert not result["published"], "the workspace changed"
        cpu_ms = (server_cpu_seconds(opts.data) - cpu_before) * 1000 / opts.n
        print(json.dumps({"figure": "sync of an unchanged workspace", "files": opts.files, "first_generation": first["generation"],
                          "p50_ms": round(pct(walls, 50), 1), "p99_ms": round(pct(walls, 99), 1), "server_cpu_ms_per_sync": round(cpu_ms, 1)}))

        # The peer: restic's backup of the same layer, unchanged since its first backup.
        layer = os.path.join(opts.data, "workspaces", ws, "layer", "upper")
        with tempfile.TemporaryDirectory() as repo:
            env = dict(os.environ, RESTIC_PASSWORD="bench", RESTIC_REPOSITORY=repo)
            subprocess.run(["restic", "init", "-q"], env=env, check=True)
            subprocess.run(["restic", "backup", "-q", layer], env=env, check=True)
            walls, cpus = [], []
            for _ in range(max(3, opts.n // 4)):
                before = os.times()
                started = time.perf_counter()
                subprocess.run(["restic", "backup", "-q", layer], env=env, check=True)
                walls.append((time.perf_counter() - started) * 1000)
                after = os.times()
                cpus.append((after.children_user + after.children_system - before.children_user - before.children_system) * 1000)
            print(json.dumps({"figure": "restic backup of the same unchanged layer", "p50_ms": round(pct(walls, 50), 1),
                              "cpu_ms_p50": round(pct(cpus, 50), 1)}))
    finally:
        h.call("DELETE", f"/v1/workspaces/{ws}")


if __name__ == "__main__":
    main()
