"""Load test of ``tinynlp serve``: throughput, latency and memory, micro-batching on vs off.

For the sentiment model (classification, ``POST /v1/classify``) and a
character LSTM language model (generation, ``POST /v1/completions`` with
``max_tokens`` 32), a server is started with ``--max-batch 32``
(micro-batching) and with ``--max-batch 1`` (one request at a time); 1, 8,
32 and 128 clients then each send their next request as soon as the last
answer came back.  Per cell: requests/s, p50 and p99 latency, failed
requests (anything but a 200 with a result), and the mean batch the server
formed (from ``/health``).  Then the resident memory (RSS) of the
micro-batching sentiment server is followed over a 10,000-request run.
Writes ``benchmarks/serve_results.md``.

    python benchmarks/serve_load.py            # several minutes on 2 cores
    python benchmarks/serve_load.py --quick    # seconds: a smoke test (tiny models, few requests)

Localhost only, and bounded: every cell stops after ``--requests`` requests or
``--seconds`` seconds, whichever comes first.  The load generator is an asyncio
loop with one keep-alive HTTP/1.1 connection per client, writing pre-encoded
requests and reading ``Content-Length`` answers (no HTTP library in the hot
path), in its own process, so that it costs the server little CPU.  Servers run
with ``--threads 1`` (one BLAS / Numba thread: the client needs the other core).

Every number comes from this run; nothing is hard-coded.  The header records the
machine's load average before and after: numbers measured on a busy machine are
marked provisional.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONCURRENCY = (1, 8, 32, 128)
TEXTS = ["a gorgeous, witty, seductive movie.",
         "the plot is nothing but boilerplate clichés from start to finish.",
         "an utterly charming and hilarious film that reaffirms your faith in humanity.",
         "it's a bad sign when you're rooting for the film to end.",
         "the performances are uniformly excellent, but the script lets them down."]


# ----------------------------------------------------------------------------- models
def train_models(folder: Path, quick: bool) -> dict:
    """A sentiment CNN and a character LSTM, trained for one epoch on a slice of their data
    (``TINYNLP_QUICK=1``): what a request costs the server depends on the architecture, not
    on how well it was trained.  The architectures are the tasks' defaults (the CNN's
    vocabulary is cut to 3,000 words, which changes only the size of its lookup table),
    unless ``quick``, where the LSTM is the tiny quick-mode one."""
    env = dict(os.environ, TINYNLP_QUICK="1", PYTHONPATH=str(ROOT))
    lm_dims = "" if quick else "embedding_dim=32, units=256, "
    code = (
        "import sys\n"
        "from tinynlp.tasks import sentiment, language_model as lm\n"
        "sentiment.train('cnn', epochs=1, out=sys.argv[1] + '/sentiment', verbose=0, plot=False)\n"
        f"lm.train('lstm', epochs=1, {lm_dims}out=sys.argv[1] + '/lm', verbose=0, plot=False)\n")
    subprocess.run([sys.executable, "-c", code, str(folder)], env=env, check=True)
    return {"sentiment": folder / "sentiment", "lm": folder / "lm"}


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model_dir, max_batch, log):
        """Start the server (see :meth:`wait` for when it answers)."""
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tinynlp", "serve", "--model", str(model_dir),
             "--port", str(self.port), "--max-batch", str(max_batch), "--threads", "1",
             "--log-level", "warning", "--name", "m"],
            stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait(self):
        """Until ``/health`` answers (at most 120 s)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start within 120 s")

    def health(self) -> dict:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ----------------------------------------------------------------------------- client
def http_post(path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


async def _client(port, requests, budget, deadline, latencies, failures, expect):
    """One keep-alive connection sending the next request when the last answer came."""
    reader = writer = None
    i = 0
    while budget[0] > 0 and time.perf_counter() < deadline:
        budget[0] -= 1
        req = requests[i % len(requests)]
        i += 1
        t0 = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(req)
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != 200 or expect not in body:
                failures.append(f"{status}: {body[:200]!r}")
            if close:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
            failures.append(f"{type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _load(port, requests, clients, n_requests, seconds, expect):
    budget = [n_requests]
    latencies, failures = [], []
    start = time.perf_counter()
    await asyncio.gather(*[_client(port, requests, budget, start + seconds, latencies,
                                   failures, expect) for _ in range(clients)])
    return latencies, failures, time.perf_counter() - start, n_requests - budget[0]


def load(port, requests, clients, n_requests, seconds, expect):
    """``clients`` closed-loop clients; returns (latencies of the answered requests in s,
    failures, wall time in s, requests sent)."""
    return asyncio.run(_load(port, requests, clients, n_requests, seconds, expect))


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * (len(xs) - 1)))))
    return xs[k]


# ----------------------------------------------------------------------------- runs
def workload(task, max_tokens=32):
    if task == "classification":
        reqs = [http_post("/v1/classify", {"input": t, "model": "m"}) for t in TEXTS]
        return reqs, b'"label"'
    reqs = [http_post("/v1/completions", {"model": "m", "prompt": p, "max_tokens": max_tokens})
            for p in ("ROMEO:", "JULIET:", "KING HENRY:", "First Citizen:", "")]
    return reqs, b'"finish_reason":"length"'


def measure(server, requests, clients, n, seconds, expect):
    """One closed-loop run against ``server``: its raw numbers."""
    before, cpu0 = server.health(), server.cpu_seconds()
    lat, fails, wall, sent = load(server.port, requests, clients, n, seconds, expect)
    after, cpu = server.health(), server.cpu_seconds() - cpu0
    return {"lat": lat, "fails": fails, "wall": wall, "sent": sent, "cpu": cpu,
            "batches": after["batches"] - before["batches"],
            "items": after["batch_items"] - before["batch_items"]}


def run_cells(models, args, log, keep):
    """Both servers of a task run side by side; at each client count they are measured
    in the order on, off, off, on (each half of the requests), so that a change of the
    machine's load during the run falls on both alike."""
    rows = []
    modes = (("micro-batching", 32), ("one at a time", 1))
    for task, model in (("classification", "sentiment"), ("generation", "lm")):
        if task not in args.tasks:
            continue
        requests, expect = workload(task, args.max_tokens)
        servers = {}
        try:
            for mode, max_batch in modes:
                servers[mode] = Server(models[model], max_batch, log)
            for server in servers.values():
                server.wait()
            for clients in args.concurrency:
                n = args.requests if task == "classification" else args.gen_requests
                half = max(n // 2, clients)
                parts = {mode: [] for mode, _ in modes}
                for mode in ("micro-batching", "one at a time", "one at a time",
                             "micro-batching"):
                    if not parts[mode]:       # warm-up at this client count
                        load(servers[mode].port, requests, clients,
                             clients if args.quick else max(2 * clients, 20), 10.0, expect)
                    parts[mode].append(measure(servers[mode], requests, clients, half,
                                               args.seconds / 2, expect))
                for mode, _ in modes:
                    ps = parts[mode]
                    lat = [x for p in ps for x in p["lat"]]
                    fails = [x for p in ps for x in p["fails"]]
                    sent, wall = sum(p["sent"] for p in ps), sum(p["wall"] for p in ps)
                    batches, items = sum(p["batches"] for p in ps), sum(p["items"] for p in ps)
                    row = {"task": task, "serving": mode, "clients": clients, "requests": sent,
                           "failed": len(fails), "rps": (len(lat) - len(fails)) / wall,
                           "p50_ms": 1000 * percentile(lat, 50),
                           "p99_ms": 1000 * percentile(lat, 99),
                           "mean_batch": items / batches if batches else float("nan"),
                           "cpu_ms": 1000 * sum(p["cpu"] for p in ps) / max(sent, 1),
                           "failures": fails[:3]}
                    rows.append(row)
                    print(f"{task:>14} {mode:>15} {clients:>4} clients: {row['rps']:8.1f} req/s  "
                          f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
                          f"failed {row['failed']}  mean batch {row['mean_batch']:.1f}  "
                          f"server CPU {row['cpu_ms']:.2f} ms/request", flush=True)
        finally:
            for mode, server in servers.items():
                if task == "classification" and mode == "micro-batching" and keep is not None:
                    keep["sentiment"] = server      # for the memory run
                else:
                    server.stop()
    rows.sort(key=lambda r: (r["task"], r["serving"] != "micro-batching", r["clients"]))
    return rows


def run_memory(models, args, log, server=None):
    """RSS of the micro-batching sentiment server (``server``, or a new one) over
    ``args.memory_requests`` requests."""
    requests, expect = workload("classification")
    if server is None:
        server = Server(models["sentiment"], 32, log)
    warm = min(500, args.memory_requests)
    try:
        server.wait()
        load(server.port, requests, 32, warm, 30.0, expect)     # warm-up
        samples = [(0, server.rss_mb())]
        done, fails, lat_all = 0, 0, []
        chunk = max(args.memory_requests // 20, 1)
        start = time.perf_counter()
        while done < args.memory_requests and time.perf_counter() - start < args.memory_seconds:
            lat, f, _, sent = load(server.port, requests, 32, chunk, args.memory_seconds,
                                   expect)
            done += sent
            fails += len(f)
            lat_all += lat
            samples.append((done, server.rss_mb()))
        return {"requests": done, "failed": fails, "samples": samples, "warm": warm,
                "seconds": time.perf_counter() - start,
                "p99_ms": 1000 * percentile(lat_all, 99)}
    finally:
        server.stop()


# ----------------------------------------------------------------------------- report
def loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def commit():
    """The checked-out commit, marked when the working tree has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if dirty.strip() else "")


def goal(on, off):
    """The issue's goal for the sentiment model at 32 clients, checked on this run."""
    met = on["rps"] >= 3 * off["rps"] and on["p99_ms"] < 250 and on["failed"] == 0
    return (" Goal: ≥ 3× the requests/s with p99 < 250 ms and no failure — "
            + ("met in this run." if met else "not met in this run."))


def cpu_ratio(on, off):
    """How many times less server CPU a request costs with micro-batching; /proc counts CPU
    time in clock ticks (10 ms), so a short run may have measured none."""
    if on["cpu_ms"] <= 0:
        return "too little server CPU time to compare at the clock-tick resolution"
    return f"**{off['cpu_ms'] / on['cpu_ms']:.2f}×** less"


def report(rows, mem, args, load_before, load_after, wall):
    busy = max(load_before[0], load_after[0]) > 1.0
    lines = ["# Serving under load: `tinynlp serve`", "",
             f"Written by `python benchmarks/serve_load.py{' --quick' if args.quick else ''}` "
             f"on {time.strftime('%Y-%m-%d %H:%M')} (commit {commit()}, Python "
             f"{platform.python_version()}, {os.cpu_count()} cores), in {wall:.0f} s.",
             f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
             f"after: {', '.join(f'{x:.2f}' for x in load_after)}.", ""]
    if busy:
        lines += ["**Provisional**: measured while other jobs loaded this 2-core machine; "
                  "re-run on a quiet machine for numbers to quote.", ""]
    if args.quick:
        lines += ["**Quick mode** (tiny models, few requests): a smoke test, not a measurement.",
                  ""]
    lines += [
        "Servers: `tinynlp serve --threads 1 --max-wait-ms 5` with `--max-batch 32` "
        "(micro-batching) or `--max-batch 1` (one request at a time). Classification: "
        "`POST /v1/classify` with one sentence, sentiment CNN (the task's architecture: "
        "embedding 64, 3 × 64 filters, 60 tokens); generation: `POST /v1/completions` with "
        f"`max_tokens` {args.max_tokens}, character LSTM ({'quick-mode size' if args.quick else '256 units'}); "
        "both trained briefly. Each client keeps one "
        "connection and sends its next request when the answer to the last one has come "
        f"(closed loop). At each client count the two servers are measured in the order "
        f"micro-batching, one at a time, one at a time, micro-batching, each time for half of "
        f"{args.requests} (classification) / {args.gen_requests} (generation) requests or "
        f"{args.seconds / 2:g} s, so that a change in the machine's load falls on both alike. "
        "Mean batch: inputs "
        "per forward pass (generation: rows per step), from `/health`. Server CPU: user + system "
        "time of the server process (both its threads) divided by the requests — unlike "
        "requests/s, it hardly depends on what else the machine runs.", "",
        "| task | serving | clients | requests | failed | req/s | p50 (ms) | p99 (ms) | "
        "mean batch | server CPU (ms / request) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['task']} | {r['serving']} | {r['clients']} | {r['requests']} | "
                     f"{r['failed']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{r['mean_batch']:.1f} | {r['cpu_ms']:.2f} |")
    lines.append("")
    for task in ("classification", "generation"):
        on = [r for r in rows if r["task"] == task and r["serving"] == "micro-batching"
              and r["clients"] == 32]
        off = [r for r in rows if r["task"] == task and r["serving"] == "one at a time"
               and r["clients"] == 32]
        if on and off:
            on, off = on[0], off[0]
            lines.append(f"- {task}, 32 clients: micro-batching serves "
                         f"**{on['rps'] / off['rps']:.2f}×** the requests/s of one-at-a-time "
                         f"serving ({on['rps']:.0f} vs {off['rps']:.0f}); p99 {on['p99_ms']:.0f} "
                         f"ms vs {off['p99_ms']:.0f} ms; failed requests {on['failed']} and "
                         f"{off['failed']}; server CPU per request {on['cpu_ms']:.2f} vs "
                         f"{off['cpu_ms']:.2f} ms ({cpu_ratio(on, off)})."
                         + (goal(on, off) if task == "classification" else ""))
    if mem:
        s = mem["samples"]
        warm, end = s[0][1], s[-1][1]
        peak = max(x for _, x in s)
        trail = ", ".join(f"{x:.1f}" for _, x in s[:: max(1, len(s) // 8)])
        lines += ["", f"Memory: the micro-batching sentiment server's RSS over {mem['requests']:,} "
                  f"requests from 32 clients ({mem['seconds']:.0f} s, {mem['failed']} failed, p99 "
                  f"{mem['p99_ms']:.0f} ms): {warm:.1f} MB after a {mem['warm']}-request warm-up, "
                  f"{end:.1f} MB at the end (peak {peak:.1f} MB; change {end - warm:+.1f} MB). "
                  f"Samples (MB): {trail}."]
    fails = [f for r in rows for f in r["failures"]]
    if fails:
        lines += ["", "First failures: " + "; ".join(f"`{f}`" for f in fails[:5])]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny models and few requests")
    p.add_argument("--requests", type=int, default=None, help="per classification cell")
    p.add_argument("--gen-requests", type=int, default=None, help="per generation cell")
    p.add_argument("--seconds", type=float, default=None, help="time cap per cell")
    p.add_argument("--max-tokens", type=int, default=None, help="per generation request "
                   "(default 32; 8 with --quick)")
    p.add_argument("--memory-requests", type=int, default=None)
    p.add_argument("--memory-seconds", type=float, default=300.0)
    p.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    p.add_argument("--tasks", nargs="+", default=["classification", "generation"],
                   choices=["classification", "generation"])
    p.add_argument("--models", help="a folder with trained 'sentiment' and 'lm' models "
                                    "(default: train them now)")
    p.add_argument("--out", default=str(HERE / "serve_results.md"))
    args = p.parse_args(argv)
    q = args.quick
    args.max_tokens = args.max_tokens or (8 if q else 32)
    args.requests = args.requests or (40 if q else 3000)
    args.gen_requests = args.gen_requests or (16 if q else 600)
    args.seconds = args.seconds or (5.0 if q else 20.0)
    if args.memory_requests is None:
        args.memory_requests = 200 if q else 10_000

    load_before = loadavg()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.models:
            models = {"sentiment": Path(args.models) / "sentiment", "lm": Path(args.models) / "lm"}
        else:
            models = train_models(tmp, q)
        with open(tmp / "servers.log", "w") as log:
            kept = {}
            try:
                rows = run_cells(models, args, log, kept)
                mem = (run_memory(models, args, log, kept.pop("sentiment", None))
                       if args.memory_requests > 0 else None)
            finally:
                for server in kept.values():
                    server.stop()
    text = report(rows, mem, args, load_before, loadavg(), time.perf_counter() - start)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
