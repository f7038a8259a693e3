#!/usr/bin/env python3
"""HearthStore benchmarks, each against its peer in the same run (restic, OpenSSL) on the same data.

usage: bench/store.py --hearth .build/release/hearth --work DIR [--reps N] [--only NAME,...]
NAME: backup (initial backup, incremental after 1% change, restore; vs restic), lag (SQLite
replication lag at 1,000 tx/s), sync (`hearth volume sync` latency), pipeline (per-core chunking,
hashing, sealing; vs `openssl speed`).
The data set (~1 GiB: a source tree of 30,000 small files, 24 random blobs of 24 MiB, a 200 MiB SQLite
database) is generated once under DIR/data from a fixed seed. Prints one JSON object per figure.
"""
import argparse, json, os, random, shutil, sqlite3, statistics, subprocess, sys, time

def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]

def emit(**figure):
    print(json.dumps(figure), flush=True)

def run(argv, env=None, capture=True):
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv[:4]), r.returncode, r.stderr.decode()[-2000:]))
    return r.stdout

def timed(argv, env=None):
    started = time.monotonic()
    out = run(argv, env)
    return time.monotonic() - started, out

def tree_bytes(root):
    total = 0
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total

# ---- data -----------------------------------------------------------------------------------

WORDS = ("let var func return if else for in guard self try await async throws struct class enum case switch import "
         "public private static count value index buffer result error data path name 0 1 = == { } ( ) -> : ,").split()

def text_corpus(rng, size):
    lines, n = [], 0
    while n < size:
        line = " " * (4 * rng.randrange(4)) + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 11))) + "\n"
        lines.append(line)
        n += len(line)
    return "".join(lines).encode()

def make_data(data):
    marker = os.path.join(data, ".complete")
    if os.path.exists(marker):
        return
    shutil.rmtree(data, ignore_errors=True)
    rng = random.Random(20261121)
    corpus = text_corpus(rng, 8 << 20)
    # A source tree: 300 directories of 100 files, 1-16 KiB each, slices of a text corpus with a
    # unique header (about 3:1 under deflate, like code).
    for d in range(300):
        directory = os.path.join(data, "src", "pkg%02d" % (d // 30), "mod%03d" % d)
        os.makedirs(directory)
        for f in range(100):
            size = rng.randrange(1024, 16384)
            start = rng.randrange(0, len(corpus) - size)
            with open(os.path.join(directory, "file%03d.swift" % f), "wb") as out:
                out.write(b"// %d/%d\n" % (d, f) + corpus[start:start + size])
    os.makedirs(os.path.join(data, "blobs"))
    for b in range(24):
        with open(os.path.join(data, "blobs", "blob%02d.bin" % b), "wb") as out:
            out.write(rng.randbytes(24 << 20))
    os.makedirs(os.path.join(data, "db"))
    db = sqlite3.connect(os.path.join(data, "db", "app.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, body TEXT, payload BLOB)")
    db.execute("BEGIN")
    for i in range(330000):
        start = rng.randrange(0, len(corpus) - 400)
        db.execute("INSERT INTO events VALUES (?, ?, ?)", (i, corpus[start:start + 400].decode(), rng.randbytes(200)))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    open(marker, "w").close()

def files_of(data):
    out = []
    for d, _, files in os.walk(data):
        for f in files:
            if not f.startswith("."):
                out.append(os.path.join(d, f))
    return sorted(out)

def change_one_percent(data, rng):
    """Changes 1% of the files: appends to small files, rewrites 64 KiB inside blobs, inserts rows."""
    files = [f for f in files_of(data) if not f.endswith((".db", "-wal", "-shm"))]
    chosen = rng.sample(files, max(1, len(files) // 100))
    for path in chosen:
        if path.endswith(".bin"):
            with open(path, "r+b") as f:
                f.seek(rng.randrange(0, (24 << 20) - 65536))
                f.write(rng.randbytes(65536))
        else:
            with open(path, "ab") as f:
                f.write(b"// changed %d\n" % rng.randrange(1 << 30))
    db = sqlite3.connect(os.path.join(data, "db", "app.db"), isolation_level=None)
    db.execute("BEGIN")
    top = db.execute("SELECT max(id) FROM events").fetchone()[0]
    for i in range(1000):
        db.execute("INSERT INTO events VALUES (?, ?, ?)", (top + 1 + i, "changed", rng.randbytes(200)))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return len(chosen) + 1

def warm(data):
    """Reads every file once so both tools start with the same page cache."""
    for path in files_of(data):
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass

# ---- backup, incremental, restore vs restic ------------------------------------------------

def bench_backup(args, env):
    data = os.path.join(args.work, "data")
    make_data(data)
    size = tree_bytes(data)
    emit(figure="data set", bytes=size, files=len(files_of(data)))
    tree = os.path.join(args.work, "tree")
    for rep in range(args.reps):
        for tool in ("hearth", "restic"):
            # Each tool backs up its own fresh copy of the data, at the same path, and sees the
            # same 1% change.
            shutil.rmtree(tree, ignore_errors=True)
            run(["cp", "-a", data, tree])
            store = os.path.join(args.work, "%s-store" % tool)
            cache = os.path.join(args.work, "%s-cache" % tool)
            target = os.path.join(args.work, "%s-restore" % tool)
            for path in (store, cache, target):
                shutil.rmtree(path, ignore_errors=True)
            e = dict(env, XDG_CACHE_HOME=cache, RESTIC_CACHE_DIR=cache, RESTIC_PASSWORD="bench", RESTIC_REPOSITORY=store)
            if tool == "restic":
                run(["restic", "init"], e)
                backup = ["restic", "backup", "--json", "--quiet", tree]
                restore = ["restic", "restore", "latest", "--target", target]
            else:
                backup = [args.hearth, "volume", "commit", tree, "--store", "file://" + store, "--volume", "bench", "--json"]
                restore = [args.hearth, "volume", "restore", "--store", "file://" + store, "--volume", "bench", "--to", target]
            warm(tree)
            seconds, _ = timed(backup, e)
            emit(figure="initial backup", tool=tool, rep=rep, seconds=round(seconds, 3), mib_s=round(size / seconds / 2**20, 1),
                 stored_bytes=tree_bytes(store))
            changed = change_one_percent(tree, random.Random(rep * 1000 + 1))
            seconds, _ = timed(backup, e)
            emit(figure="incremental after 1% change", tool=tool, rep=rep, files_changed=changed, seconds=round(seconds, 3))
            seconds, _ = timed(restore, e)
            restored = tree_bytes(target)
            emit(figure="restore", tool=tool, rep=rep, seconds=round(seconds, 3), mib_s=round(restored / seconds / 2**20, 1), bytes=restored)
            shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(tree, ignore_errors=True)

# ---- SQLite replication lag -----------------------------------------------------------------

INSERTER = r"""
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL")
c.execute("CREATE TABLE IF NOT EXISTS t(n INTEGER PRIMARY KEY, at REAL, pad BLOB)")
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
started = time.time(); n = 0
while time.time() - started < seconds:
    n += 1
    c.execute("INSERT INTO t VALUES (?, ?, randomblob(100))", (n, time.time()))
    ahead = n / rate - (time.time() - started)
    if ahead > 0: time.sleep(ahead)
print(n)
"""

def bench_lag(args, env):
    work = os.path.join(args.work, "lag")
    shutil.rmtree(work, ignore_errors=True)
    src, store = os.path.join(work, "src"), os.path.join(work, "store")
    os.makedirs(src)
    db = os.path.join(src, "app.db")
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE t(n INTEGER PRIMARY KEY, at REAL, pad BLOB)")
    c.close()
    e = dict(env, XDG_CACHE_HOME=os.path.join(work, "cache"))
    watch = subprocess.Popen([args.hearth, "volume", "watch", src, "--store", "file://" + store, "--volume", "lag",
                              "--socket", os.path.join(work, "s.sock")], env=e, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        inserted = int(run([sys.executable, "-c", INSERTER, db, "1000", str(args.lag_seconds)]).decode())
        time.sleep(2)
    finally:
        watch.terminate()
        watch.wait()
    gens = os.path.join(store, "volumes", "lag", "generations")
    published = []  # (publish time, generation number): the object's ctime is when link() made it visible
    for name in sorted(os.listdir(gens)):
        if name.isdigit():
            published.append((os.stat(os.path.join(gens, name)).st_ctime, int(name)))
    lags, seen = [], 0
    restored = os.path.join(work, "restored")
    for at, number in sorted(published):
        shutil.rmtree(restored, ignore_errors=True)
        run([args.hearth, "volume", "restore", "--store", "file://" + store, "--volume", "lag", "--generation", str(number), "--to", restored], e)
        r = sqlite3.connect(os.path.join(restored, "app.db"))
        rows = r.execute("SELECT n, at FROM t WHERE n > ? ORDER BY n", (seen,)).fetchall()
        r.close()
        for n, written in rows:
            lags.append(at - written)
        if rows:
            seen = rows[-1][0]
    emit(figure="SQLite replication lag at 1000 tx/s", transactions=inserted, shipped=len(lags), generations=len(published),
         p50_ms=round(pct(lags, 50) * 1000, 1), p99_ms=round(pct(lags, 99) * 1000, 1), max_ms=round(max(lags) * 1000, 1))
    if len(lags) != inserted:
        raise RuntimeError("only %d of %d transactions reached a generation" % (len(lags), inserted))

# ---- sync latency -----------------------------------------------------------------------------

def bench_sync(args, env):
    for label, files in (("1,000 files", 1000), ("30,000 files", 30000)):
        work = os.path.join(args.work, "sync-%d" % files)
        shutil.rmtree(work, ignore_errors=True)
        src = os.path.join(work, "src")
        for i in range(files):
            d = os.path.join(src, "d%03d" % (i % (files // 50)))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "f%05d" % i), "wb") as f:
                f.write(os.urandom(2048))
        sock = os.path.join(work, "s.sock")
        e = dict(env, XDG_CACHE_HOME=os.path.join(work, "cache"))
        watch = subprocess.Popen([args.hearth, "volume", "watch", src, "--store", "file://" + os.path.join(work, "store"),
                                  "--volume", "s", "--socket", sock], env=e, stderr=subprocess.DEVNULL)
        try:
            while not os.path.exists(sock):
                time.sleep(0.05)
            for _ in range(3):
                run([args.hearth, "volume", "sync", "--socket", sock], e)
            idle, dirty = [], []
            for i in range(args.syncs):
                idle.append(json.loads(run([args.hearth, "volume", "sync", "--socket", sock, "--json"], e))["milliseconds"])
                with open(os.path.join(src, "d000", "f%05d" % 0), "ab") as f:
                    f.write(b"x")
                dirty.append(json.loads(run([args.hearth, "volume", "sync", "--socket", sock, "--json"], e))["milliseconds"])
        finally:
            watch.terminate()
            watch.wait()
        emit(figure="sync latency, nothing changed", tree=label, n=len(idle), p50_ms=round(pct(idle, 50), 1), p90_ms=round(pct(idle, 90), 1))
        emit(figure="sync latency, one file changed", tree=label, n=len(dirty), p50_ms=round(pct(dirty, 50), 1), p90_ms=round(pct(dirty, 90), 1))

# ---- per-core pipeline vs OpenSSL ----------------------------------------------------------------

def openssl_speed(algorithm):
    out = run(["openssl", "speed", "-seconds", "3", "-bytes", "1048576", "-evp", algorithm]).decode()
    line = [l for l in out.splitlines() if l.lower().startswith(algorithm.lower())][-1]
    return float(line.split()[-1].rstrip("k")) * 1000 / 2**20  # kB/s → MiB/s

def bench_pipeline(args, env):
    for r in json.loads(run([args.hearth, "volume", "benchmark", "--mib", "512", "--json"], env)):
        emit(figure="per-core pipeline", **r)
    emit(figure="peer: openssl speed, 1 MiB blocks, one core", sha256_mib_s=round(openssl_speed("sha256"), 1),
         aes_256_gcm_mib_s=round(openssl_speed("aes-256-gcm"), 1))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hearth", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--syncs", type=int, default=50)
    p.add_argument("--lag-seconds", type=float, default=30)
    p.add_argument("--only", default="backup,lag,sync,pipeline")
    args = p.parse_args()
    args.hearth = os.path.abspath(args.hearth)
    os.makedirs(args.work, exist_ok=True)
    env = dict(os.environ)
    kek = os.path.join(args.work, "kek")
    if not os.path.exists(kek):
        run([args.hearth, "volume", "keygen", "--out", kek])
    env["HEARTH_KEK_FILE"] = kek
    emit(figure="machine", cpus=os.cpu_count(), kernel=os.uname().release,
         restic=run(["restic", "version"]).decode().strip(), hearth=args.hearth)
    for name in args.only.split(","):
        {"backup": bench_backup, "lag": bench_lag, "sync": bench_sync, "pipeline": bench_pipeline}[name](args, env)

if __name__ == "__main__":
    main()
