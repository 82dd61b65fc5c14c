#!/usr/bin/env python3
"""Supervisor benchmark: PM2 (from npm, pinned in package.json) vs runway, same machine, same run.

Both manage the same small Node HTTP servers (server.js). Measured:
  - daemon RSS with 2 children (and runway's with 20),
  - kill -9 of a child -> its port serving again (new pid answers),
  - `pm2 jlist` vs `runway status --json` wall time,
  - `pm2 restart a` vs `runway restart a` -> the port served by the new process,
  - the floor: `node server.js` spawned directly -> serving (the child's own boot).
Medians over N runs; results printed and written to results/supervisor.json.
Ports 41000-41099 only. Not a test: numbers, no assertions.
"""
import http.client, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
RUNWAY = os.environ.get("RUNWAY_BIN", os.path.join(ROOT, "target", "release", "runway"))
PM2 = os.path.join(HERE, "node_modules", ".bin", "pm2")
NODE = shutil.which("node")
N = int(os.environ.get("BENCH_RUNS", "10"))
SERVER = os.path.join(HERE, "server.js")
# Pause after each kill/restart once serving again: longer than PM2's min_uptime (1 s, below
# which a restart counts as unstable) and runway's bench reset_after (1 s).
KILL_GAP = 1.2
# This machine's environment sets NODE_EXTRA_CA_CERTS (the whole CA bundle), which every Node
# process parses at boot: `node -e 0` 57 ms with it, 20 ms without. Not part of the app or of
# either supervisor; dropped for PM2, runway and bare node alike so the figures show the
# supervisors' own share rather than a sandbox setting.
os.environ.pop("NODE_EXTRA_CA_CERTS", None)


def get(port):
    # From 127.0.0.2: polling a port in the ephemeral range while nothing listens can otherwise
    # connect the client to itself, and its TIME_WAIT then keeps the server from binding the
    # port for a minute (seen here: one of the 20 servers crash-looping on EADDRINUSE).
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5, source_address=("127.0.0.2", 0))
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    except Exception:
        return None
    finally:
        conn.close()


def wait_serving(port, not_pid, t0, timeout=15.0):
    """ms from t0 until the port answers with a pid other than not_pid."""
    while time.perf_counter() - t0 < timeout:
        body = get(port)
        if body is not None and body != str(not_pid):
            return (time.perf_counter() - t0) * 1000.0
        time.sleep(0.001)
    raise RuntimeError(f"port {port} not serving a new process within {timeout}s")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def median(xs):
    return round(statistics.median(xs), 1)


def timed(cmd, env):
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000.0


# ---------------------------------------------------------------- PM2
def bench_pm2(work):
    env = dict(os.environ, PM2_HOME=os.path.join(work, "pm2-home"))
    ports = {"a": 41001, "b": 41002}
    eco = os.path.join(work, "ecosystem.config.js")
    with open(eco, "w") as f:
        apps = [
            {"name": n, "script": SERVER, "env": {"PORT": str(p)}, "autorestart": True}
            for n, p in ports.items()
        ]
        f.write("module.exports = " + json.dumps({"apps": apps}) + ";\n")
    subprocess.run([PM2, "start", eco], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        return _bench_pm2(env, ports)
    finally:
        subprocess.run([PM2, "kill"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _bench_pm2(env, ports):
    for p in ports.values():
        wait_serving(p, None, time.perf_counter())
    jlist = lambda: json.loads(subprocess.run([PM2, "jlist"], env=env, check=True, capture_output=True).stdout)
    pid_of = lambda name: next(x["pid"] for x in jlist() if x["name"] == name)
    with open(os.path.join(env["PM2_HOME"], "pm2.pid")) as f:
        god = int(f.read().strip())
    time.sleep(2)
    out = {"daemon_rss_kb_2": rss_kb(god)}
    kills = []
    for _ in range(N):
        pid = pid_of("a")
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        kills.append(wait_serving(ports["a"], pid, t0))
        time.sleep(KILL_GAP)
    out["kill9_to_serving_ms"] = median(kills)
    out["status_ms"] = median([timed([PM2, "jlist"], env) for _ in range(max(N, 20))])
    restarts = []
    for _ in range(N):
        pid = pid_of("a")
        t0 = time.perf_counter()
        proc = subprocess.Popen([PM2, "restart", "a"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        restarts.append(wait_serving(ports["a"], pid, t0))
        proc.wait()
        time.sleep(KILL_GAP)
    out["restart_to_serving_ms"] = median(restarts)
    out["daemon_rss_kb_2_after"] = rss_kb(god)
    return out


# ---------------------------------------------------------------- the floor
def bench_bare_node():
    """spawn `node server.js` directly -> serving: what any supervisor's restart costs at least
    (the child's own boot), to read the kill -9 and restart figures against."""
    port = 41005
    times = []
    for _ in range(N):
        t0 = time.perf_counter()
        proc = subprocess.Popen([NODE, SERVER], env=dict(os.environ, PORT=str(port)))
        try:
            times.append(wait_serving(port, None, t0))
        finally:
            proc.kill()
            proc.wait()
        time.sleep(0.2)
    return {"spawn_to_serving_ms": median(times)}


# ---------------------------------------------------------------- runway
def runway_manifest(path, ports):
    # Every kill must count as the first crash of a healthy process (restarted at once, as PM2
    # does): runway's backoff series resets after `reset_after` healthy, 30 s by default, which
    # would make the 2nd..Nth kill wait 100 ms, 200 ms, ... on purpose. The loops below wait
    # KILL_GAP between kills, so reset_after = 1s and a crash-loop limit above the kill count.
    with open(path, "w") as f:
        for name, port in ports.items():
            f.write(
                f'[[process]]\nname = "{name}"\ncommand = ["{NODE}", "{SERVER}"]\nport = {port}\n'
                'backoff = { reset_after = "1s" }\ncrash_loop = { max_restarts = 1000 }\n\n'
            )


def bench_runway(work):
    home = os.path.join(work, "rw-home")
    manifest = os.path.join(work, "runway.toml")
    env = dict(os.environ, RUNWAY_HOME=home, RUNWAY_CONFIG=manifest)
    ports = {"a": 41011, "b": 41012}
    runway_manifest(manifest, ports)
    subprocess.run([RUNWAY, "up", "--detach"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        out = _bench_runway(env, ports)
    finally:
        subprocess.run([RUNWAY, "down"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # 20 processes
    ports20 = {f"p{i:02d}": 41020 + i for i in range(20)}
    runway_manifest(manifest, ports20)
    subprocess.run([RUNWAY, "up", "--detach"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        for p in ports20.values():
            wait_serving(p, None, time.perf_counter())
        daemon = runway_status(env)["daemon"]["pid"]
        time.sleep(2)
        for _ in range(5):
            runway_status(env)
        out["daemon_rss_kb_20"] = rss_kb(daemon)
        out["status_ms_20"] = median([timed([RUNWAY, "status", "--json"], env) for _ in range(20)])
    finally:
        subprocess.run([RUNWAY, "down"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def runway_status(env):
    return json.loads(subprocess.run([RUNWAY, "status", "--json"], env=env, check=True, capture_output=True).stdout)


def _bench_runway(env, ports):
    for p in ports.values():
        wait_serving(p, None, time.perf_counter())
    pid_of = lambda name: next(p["pid"] for p in runway_status(env)["processes"] if p["name"] == name)
    daemon = runway_status(env)["daemon"]["pid"]
    time.sleep(2)
    out = {"daemon_rss_kb_2": rss_kb(daemon)}
    kills = []
    for _ in range(N):
        pid = pid_of("a")
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        kills.append(wait_serving(ports["a"], pid, t0))
        time.sleep(KILL_GAP)
    out["kill9_to_serving_ms"] = median(kills)
    out["status_ms"] = median([timed([RUNWAY, "status", "--json"], env) for _ in range(max(N, 20))])
    out["status_table_ms"] = median([timed([RUNWAY, "status"], env) for _ in range(max(N, 20))])
    restarts = []
    for _ in range(N):
        pid = pid_of("a")
        t0 = time.perf_counter()
        proc = subprocess.Popen([RUNWAY, "restart", "a"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        restarts.append(wait_serving(ports["a"], pid, t0))
        proc.wait()
        time.sleep(KILL_GAP)
    out["restart_to_serving_ms"] = median(restarts)
    out["daemon_rss_kb_2_after"] = rss_kb(daemon)
    return out


def main():
    if not os.path.exists(RUNWAY):
        sys.exit(f"{RUNWAY} missing: run `cargo build --release -p runway` first")
    if not os.path.exists(PM2):
        sys.exit(f"{PM2} missing: run `npm ci` in {HERE}")
    # Read, not `pm2 --version`: that starts a God daemon nobody would stop.
    with open(os.path.join(HERE, "node_modules", "pm2", "package.json")) as f:
        pm2_version = json.load(f)["version"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-sup-") as work:
        pm2 = bench_pm2(work)
        bare = bench_bare_node()
        rw = bench_runway(work)
    result = {
        "runs": N,
        "node": subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip(),
        "pm2_version": pm2_version,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "bare_node": bare,
        "pm2": pm2,
        "runway": rw,
        "ratios": {
            "daemon_rss": round(rw["daemon_rss_kb_2"] / pm2["daemon_rss_kb_2"], 3),
            "kill9_to_serving": round(rw["kill9_to_serving_ms"] / pm2["kill9_to_serving_ms"], 3),
            "status": round(rw["status_ms"] / pm2["status_ms"], 3),
            "restart_to_serving": round(rw["restart_to_serving_ms"] / pm2["restart_to_serving_ms"], 3),
        },
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "supervisor.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
