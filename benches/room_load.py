#!/usr/bin/env python3
"""Whole-room load benchmark: starts `tessera serve`, drives it with `tessera loadgen` at a
series of sizes, samples the server's CPU time from /proc and prints a table.

    python3 benches/room_load.py                 # audio-only 10/50/100/200/500 members
    python3 benches/room_load.py --sizes 10,100  # a subset
    python3 benches/room_load.py --duration 30   # longer runs (default 20 s each)

Everything runs on loopback; every run is bounded by --duration. Needs the release binary
(`cargo build --release`; the script builds it when missing).

Columns: members, talkers, joined, server CPU in cores (steady state), mix tick p50/p99 (from
the server's periodic "media tick stats" log line), audio encoders in use, RTP loss seen by the
generator, and the overhead ratio = server CPU / (members x Opus decode + encoders x Opus
encode), with both codec costs measured on this machine in the same run (loadgen --calibrate).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tessera")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def run_size(members, talkers, duration, port, costs):
    log = open(f"/tmp/tessera-room-load-{members}.log", "w")
    server = subprocess.Popen(
        [BIN, "serve", "--sip-listen", f"127.0.0.1:{port}", "--rtp-ports", "40000-49999",
         "--rtp-timeout", "60"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"})
    time.sleep(0.5)
    ramp = max(20, members // 5)
    gen = subprocess.Popen(
        [BIN, "loadgen", "--target", f"sip:3000@127.0.0.1:{port}", "--members", str(members),
         "--talkers", str(talkers), "--duration", str(duration), "--ramp", f"{ramp}/s", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # Steady state: after the ramp (plus 2 s), until 2 s before the end.
    ramp_s = members / ramp + 2
    time.sleep(ramp_s)
    c0, t0 = cpu_seconds(server.pid), time.monotonic()
    time.sleep(max(1.0, duration - ramp_s - 2))
    c1, t1 = cpu_seconds(server.pid), time.monotonic()
    out, _ = gen.communicate(timeout=duration + 60)
    server.terminate()
    server.wait(timeout=30)
    log.close()
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    text = open(f"/tmp/tessera-room-load-{members}.log").read()
    ticks = re.findall(r"tick_p50_us=(\d+) tick_p99_us=(\d+)", text)
    overruns = text.count("media tick overrun")
    encoders = re.findall(r"audio_encoders=(\d+)", text)
    cores = (c1 - c0) / (t1 - t0)
    enc = max(int(e) for e in encoders) if encoders else talkers + 1  # peak: all talkers active
    ideal = (members * costs["opus_decode_us"] + enc * costs["opus_encode_us"]) / 20000.0
    return {
        "members": members, "talkers": talkers, "joined": report.get("joined", 0),
        "cores": cores, "tick_p50_us": int(ticks[-1][0]) if ticks else None,
        "tick_p99_us": int(ticks[-1][1]) if ticks else None, "encoders": enc,
        "loss_pct": report.get("loss_pct"), "latency_p50_ms": report.get("latency_ms_p50"),
        "overhead": cores / ideal if ideal > 0 else None, "overruns": overruns,
        "members_per_core": members / cores if cores > 0 else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,50,100,200,500")
    ap.add_argument("--talkers", type=int, default=3)
    ap.add_argument("--duration", type=int, default=20)
    args = ap.parse_args()
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release", "--bin", "tessera"], cwd=ROOT, check=True)
    costs = json.loads(subprocess.run([BIN, "loadgen", "--calibrate"], capture_output=True,
                                      text=True, check=True).stdout)
    print(f"# machine: {os.cpu_count()} cores; Opus encode {costs['opus_encode_us']:.1f} us, "
          f"decode {costs['opus_decode_us']:.1f} us per 20 ms frame (median, this run)")
    print("| members | talkers | joined | server cores | tick p50 us | tick p99 us | encoders "
          "| loss % | latency p50 ms | members/core | overhead | tick overruns |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, size in enumerate(int(s) for s in args.sizes.split(",")):
        r = run_size(size, min(args.talkers, size), args.duration, 56000 + i, costs)
        print(f"| {r['members']} | {r['talkers']} | {r['joined']} | {r['cores']:.3f} "
              f"| {r['tick_p50_us']} | {r['tick_p99_us']} | {r['encoders']} | {r['loss_pct']:.3f} "
              f"| {r['latency_p50_ms']:.0f} | {r['members_per_core']:.0f} | {r['overhead']:.2f} "
              f"| {r['overruns']} |",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
