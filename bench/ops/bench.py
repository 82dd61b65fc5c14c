#!/usr/bin/env python3
"""runway up and deploy figures (issue 6). Not a test; run with bash bench/ops/run.sh.

In a clone of this repository (ports moved to 45080/45030/45031 so a developer's stack keeps
8080/3000/3001), with the backend binary BACKEND_BIN placed where the pipeline expects it:

1. warm `runway up --detach` -> `runway verify` passes, N times (everything built; goal <= 3 s);
2. 10 deploys (each a commit that changes the page title) and 10 rollbacks under steady load
   through the proxy (/api/health, /api/auth/me, /): failed requests (goal 0) and each
   deploy's step durations from the release records.

Prints a Markdown block for docs/benchmarks.md and writes the raw numbers to results/.
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUNWAY = os.environ.get("RUNWAY_BIN", os.path.join(ROOT, "target", "release", "runway"))
PROXY, BACKEND, FRONTEND = 45080, 45030, 45031
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DEPLOYS = int(os.environ.get("BENCH_DEPLOYS", "10"))


def sh(cmd, cwd, check=True, env=None):
    r = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        sys.exit(f"`{cmd}` failed:\n{r.stdout}{r.stderr}")
    return r


def runway(args, cwd, check=True):
    env = {k: v for k, v in os.environ.items() if k not in ("RUNWAY_HOME", "RUNWAY_CONFIG", "NODE_ENV")}
    env["DATA_DIR"] = os.path.join(os.path.dirname(cwd), "data")
    r = subprocess.run([RUNWAY] + args, cwd=cwd, capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        sys.exit(f"runway {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r


class Load:
    """Steady load: one thread per path, each a keep-alive connection, re-opened on error."""

    def __init__(self, paths, cookie):
        self.stop = threading.Event()
        self.ok = 0
        self.failed = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.loop, args=(p, cookie)) for p in paths]
        for t in self.threads:
            t.start()

    def loop(self, path, cookie):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", PROXY, timeout=30)
                conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
                r = conn.getresponse()
                r.read()
                with self.lock:
                    if 200 <= r.status < 400:
                        self.ok += 1
                    else:
                        self.failed.append(f"{path}: {r.status}")
            except Exception as e:  # a failed request, counted
                with self.lock:
                    self.failed.append(f"{path}: {e!r}")
                conn = None

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        return self.ok, self.failed


def signin():
    conn = http.client.HTTPConnection("127.0.0.1", PROXY, timeout=30)
    body = json.dumps({"email": "admin@runway.local", "password": "runway-dev-password"})
    conn.request("POST", "/api/auth/signin/local", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"sign-in failed: {r.status}")
    cookies = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
    return "; ".join(cookies)


def main():
    backend_bin = os.environ.get("BACKEND_BIN", os.path.join(ROOT, "target", "release", "backend"))
    if not os.path.isfile(backend_bin):
        sys.exit(f"no backend binary at {backend_bin}: cargo build --release -p backend, or set BACKEND_BIN")
    tmp = tempfile.mkdtemp(prefix="runway-bench-ops-")
    app = os.path.join(tmp, "app")
    sh(f"git clone -q {ROOT} app", tmp)
    sh("git config user.email bench@example.com && git config user.name bench", app)
    text = open(os.path.join(app, "runway.toml")).read()
    text = (text.replace("127.0.0.1:8080", f"127.0.0.1:{PROXY}")
            .replace("127.0.0.1:3000", f"127.0.0.1:{BACKEND}")
            .replace('"3000"', f'"{BACKEND}"').replace("port = 3000", f"port = {BACKEND}")
            .replace('"3001"', f'"{FRONTEND}"').replace("port = 3001", f"port = {FRONTEND}"))
    open(os.path.join(app, "runway.toml"), "w").write(text)
    sh("git commit -qam 'bench: ports'", app)
    os.makedirs(os.path.join(app, "target", "release"))
    shutil.copy(backend_bin, os.path.join(app, "target", "release", "backend"))
    skip = ["--skip", "build-backend"]
    modules = os.path.join(ROOT, "frontend", "node_modules")
    if os.path.isfile(os.path.join(modules, ".package-lock.json")):
        sh(f"cp -al {modules} frontend/node_modules || cp -a {modules} frontend/node_modules", app)
        skip += ["--skip", "install"]

    # First up: runs the pipeline (not timed here: the cold figure is a whole fresh clone).
    t0 = time.monotonic()
    runway(["up", "--detach"] + skip, app)
    first = time.monotonic() - t0
    runway(["down"], app)

    warm = []
    for _ in range(RUNS):
        t0 = time.monotonic()
        runway(["up", "--detach"] + skip, app)
        deadline = time.monotonic() + 60
        while runway(["verify"], app, check=False).returncode != 0:
            if time.monotonic() > deadline:
                sys.exit("verify did not pass within 60 s")
            time.sleep(0.05)
        warm.append(time.monotonic() - t0)
        runway(["down"], app)

    runway(["up", "--detach"] + skip, app)
    while runway(["verify"], app, check=False).returncode != 0:
        time.sleep(0.2)
    cookie = signin()
    paths = ["/api/health", "/api/auth/me", "/", "/api/health"]

    deploy_failed, deploy_ok, deploy_times = [], 0, []
    html_path = os.path.join(app, "frontend", "index.html")
    html = open(html_path).read()
    for i in range(DEPLOYS):
        open(html_path, "w").write(html.replace("<title>Runway</title>", f"<title>Runway bench {i}</title>"))
        sh(f"git commit -qam 'bench: deploy {i}'", app)
        load = Load(paths, cookie)
        time.sleep(0.3)
        t0 = time.monotonic()
        runway(["deploy"] + skip, app)
        deploy_times.append(time.monotonic() - t0)
        time.sleep(0.3)
        ok, failed = load.finish()
        deploy_ok += ok
        deploy_failed += failed
    releases = json.loads(runway(["releases", "--json"], app).stdout)
    live = [r for r in releases if r["result"]["state"] in ("live", "superseded")]
    ids = [r["id"] for r in live[:2]]

    rollback_failed, rollback_ok, rollback_times = [], 0, []
    for i in range(DEPLOYS):
        load = Load(paths, cookie)
        time.sleep(0.3)
        t0 = time.monotonic()
        runway(["rollback", ids[(i + 1) % 2]], app)
        rollback_times.append(time.monotonic() - t0)
        time.sleep(0.3)
        ok, failed = load.finish()
        rollback_ok += ok
        rollback_failed += failed
    runway(["down"], app)

    steps = {}
    for r in releases:
        if r.get("git_ref") is None and any(s["name"] == "switch" for s in r["steps"]):
            for s in r["steps"]:
                steps.setdefault(s["name"], []).append(s["duration_ms"])
    med = statistics.median
    load_avg = os.getloadavg()
    out = {
        "first_up_s": first, "warm_up_to_verify_s": warm, "deploy_s": deploy_times,
        "rollback_s": rollback_times, "deploy_steps_ms": steps,
        "deploy_requests": deploy_ok, "deploy_failed": deploy_failed,
        "rollback_requests": rollback_ok, "rollback_failed": rollback_failed,
        "loadavg": load_avg,
    }
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "latest.json"), "w") as f:
        json.dump(out, f, indent=2)
    print(f"warm `up` -> verify passes: median {med(warm):.2f} s over {len(warm)} runs "
          f"(min {min(warm):.2f}, max {max(warm):.2f}); goal <= 3 s")
    print(f"deploy (whole command): median {med(deploy_times):.2f} s over {len(deploy_times)}")
    print("deploy steps, median ms: " + ", ".join(f"{k} {med(v):.0f}" for k, v in steps.items()))
    print(f"rollback: median {med(rollback_times):.2f} s over {len(rollback_times)}")
    print(f"failed requests: {len(deploy_failed)} of {deploy_ok + len(deploy_failed)} during "
          f"{DEPLOYS} deploys, {len(rollback_failed)} of {rollback_ok + len(rollback_failed)} during "
          f"{DEPLOYS} rollbacks (goal 0)")
    if deploy_failed or rollback_failed:
        print("first failures:", (deploy_failed + rollback_failed)[:5])
    print(f"load average at the end: {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
