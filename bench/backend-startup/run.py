#!/usr/bin/env python3
"""Backend startup benchmark: release binary size, exec -> first `GET /api/health` 200
(median of N runs), and idle RSS 2 s after start. Runs our backend on SQLite and on
PostgreSQL, and the Express + Sequelize reference (./express, PostgreSQL) in the same run.

Usage: bash bench/backend-startup/run.sh   (builds the release binary, npm-installs the
reference, then calls this script). Ports: 43010-43019. Prints a Markdown table.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def http_status(port, path="/api/health"):
    """Status code of GET path, or None if nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = s.recv(64)
            parts = data.split(b" ", 2)
            return int(parts[1]) if len(parts) > 1 else None
    except OSError:
        return None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid):
    """RSS of pid plus its children (npm/node wrappers)."""
    total = rss_kib(pid)
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        children = []
    for c in children:
        try:
            total += tree_rss_kib(int(c))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def one_run(cmd, env, port, cwd=None):
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited early: {proc.stderr.read().decode()[-2000:]}")
            if http_status(port) == 200:
                break
            if time.perf_counter() - t0 > 60:
                raise RuntimeError(f"{cmd} not healthy after 60 s")
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
        time.sleep(2.0)
        rss = tree_rss_kib(proc.pid)
        return elapsed, rss
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(label, cmd, env, port, runs, cwd=None):
    times, rsss = [], []
    for _ in range(runs):
        t, r = one_run(cmd, env, port, cwd)
        times.append(t)
        rsss.append(r)
    return {
        "label": label,
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "max_ms": max(times) * 1000,
        "rss_mib": statistics.median(rsss) / 1024,
    }


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def split_url(url):
    # postgres://user:pass@host:port/db
    rest = url.split("://", 1)[1]
    userinfo, hostpart = rest.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    hostport = hostpart.split("/", 1)[0]
    host, _, port = hostport.partition(":")
    return user, password, host, port or "5432"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "backend"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pg", default=os.environ.get(
        "TEST_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--port", type=int, default=43010)
    args = ap.parse_args()

    size_mib = os.path.getsize(args.bin) / (1024 * 1024)
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("NODE_ENV", "DATABASE_URL", "PORT", "DATA_DIR", "RUST_LOG")
                and not k.startswith("DB_")}
    base_env["BACKEND_ENV_FILE"] = "/dev/null"
    base_env["ADMIN_PASS"] = "bench-admin-pass"
    results = []
    tmp = tempfile.mkdtemp(prefix="rw-bench-")
    dbname = f"rw_bench_{uuid.uuid4().hex[:12]}"
    admin = args.pg.rsplit("/", 1)[0] + "/postgres"
    pg_ok = shutil.which("psql") is not None
    try:
        # SQLite: prepared once (migrate + seed), then timed restarts.
        env = dict(base_env, NODE_ENV="development", PORT=str(args.port),
                   DATABASE_URL=f"sqlite://{tmp}/bench.sqlite")
        subprocess.run([args.bin, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([args.bin, "seed"], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        results.append(measure("backend serve, SQLite", [args.bin, "serve"], env, args.port, args.runs))
        results.append(measure("backend start (migrate+seed+serve), SQLite", [args.bin, "start"],
                               env, args.port, args.runs))

        if pg_ok:
            psql(admin, f'CREATE DATABASE "{dbname}"')
            user, password, host, port = split_url(args.pg)
            pg_env = dict(base_env, NODE_ENV="dev_stage", SECRET_KEY="bench-secret-key", PORT=str(args.port + 2),
                          DB_HOST=host, DB_PORT=port, DB_NAME=dbname, DB_USER=user, DB_PASS=password)
            subprocess.run([args.bin, "migrate"], env=pg_env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([args.bin, "seed"], env=pg_env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            results.append(measure("backend serve, PostgreSQL", [args.bin, "serve"], pg_env,
                                   args.port + 2, args.runs))
            results.append(measure("backend start (migrate+seed+serve), PostgreSQL", [args.bin, "start"],
                                   pg_env, args.port + 2, args.runs))
            express = os.path.join(HERE, "express")
            if os.path.isdir(os.path.join(express, "node_modules")) and shutil.which("node"):
                results.append(measure("Express + Sequelize (node server.js), PostgreSQL",
                                       ["node", "server.js"], dict(pg_env, PORT=str(args.port + 3)),
                                       args.port + 3, args.runs, cwd=express))
            else:
                print("note: express/node_modules missing: reference not measured", file=sys.stderr)
        else:
            print("note: psql not found: PostgreSQL rows not measured", file=sys.stderr)
    finally:
        if pg_ok:
            try:
                psql(admin, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"release binary: {args.bin}: {size_mib:.1f} MiB")
    print(f"machine: {os.cpu_count()} cores; runs per row: {args.runs}\n")
    print("| what | exec → /api/health 200, median (min–max) | idle RSS 2 s after start, median |")
    print("|---|---|---|")
    for r in results:
        print(f"| {r['label']} | {r['median_ms']:.0f} ms ({r['min_ms']:.0f}–{r['max_ms']:.0f}) "
              f"| {r['rss_mib']:.1f} MiB |")


if __name__ == "__main__":
    main()
