#!/usr/bin/env python3
"""Whole-room load benchmark: starts `tessera serve`, drives it with `tessera loadgen` at a
series of sizes, samples the server's CPU time from /proc and prints a table.

    python3 benches/room_load.py                 # audio 10/50/100/200/500, then video rows
    python3 benches/room_load.py --sizes 10,100  # a subset of the audio sizes
    python3 benches/room_load.py --video-senders 9 --video-watchers 1,50 --sizes ''
    python3 benches/room_load.py --duration 30   # longer runs (default 20 s each)

Everything runs on loopback; every run is bounded by --duration. Needs the release binary
(`cargo build --release`; the script builds it when missing).

Audio columns: members, talkers, joined, server CPU in cores (steady state), mix tick p50/p99
(from the server's periodic "media tick stats" log line), audio encoders in use, RTP loss seen
by the generator, and the overhead ratio = server CPU / (members x Opus decode + encoders x
Opus encode), with both codec costs measured on this machine in the same run (loadgen
--calibrate).

Video rows: S senders of 1280x720 @ 30 fps (a pre-encoded loop, sendonly) and W watch-only
members, one 1280x720 @ 30 fps canvas. The overhead ratio there = server CPU / (S x 30 x H.264
decode + views x 30 x H.264 encode + the audio ideal), codec costs again from --calibrate
(P-frames of the same content, 1280x720), measured just before and after each video row and
averaged, because this machine's speed drifts by tens of percent within minutes. The primary
overhead column uses the costs the server itself logs ("video codec stats": thread CPU time
per decode and per encode over the last 10 s), i.e. the same process in the same run.
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
LIMITS = os.path.join(ROOT, "benches", "load_limits.toml")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def run_load(members, talkers, duration, port, extra, tag):
    """Runs one server + loadgen pair; returns (report, server log text, cores)."""
    log_path = f"/tmp/tessera-room-load-{tag}.log"
    log = open(log_path, "w")
    server = subprocess.Popen(
        [BIN, "serve", "--sip-listen", f"127.0.0.1:{port}", "--rtp-ports", "40000-49999",
         "--rtp-timeout", "60", "--config", LIMITS],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"})
    time.sleep(0.5)
    ramp = max(20, members // 5)
    gen = subprocess.Popen(
        [BIN, "loadgen", "--target", f"sip:3000@127.0.0.1:{port}", "--members", str(members),
         "--talkers", str(talkers), "--duration", str(duration), "--ramp", f"{ramp}/s", "--json"]
        + extra,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # Steady state: after the ramp (plus 3 s: the video loop is pre-encoded first), until 2 s
    # before the end.
    ramp_s = members / ramp + 3
    time.sleep(ramp_s)
    c0, t0 = cpu_seconds(server.pid), time.monotonic()
    time.sleep(max(1.0, duration - ramp_s - 2))
    c1, t1 = cpu_seconds(server.pid), time.monotonic()
    out, _ = gen.communicate(timeout=duration + 60)
    server.terminate()
    server.wait(timeout=30)
    log.close()
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    return report, open(log_path).read(), (c1 - c0) / (t1 - t0)


def tick_columns(text):
    ticks = re.findall(r"tick_p50_us=(\d+) tick_p99_us=(\d+)", text)
    return (int(ticks[-1][0]) if ticks else None, int(ticks[-1][1]) if ticks else None,
            text.count("media tick overrun"))


def run_size(members, talkers, duration, port, costs):
    report, text, cores = run_load(members, talkers, duration, port, [], f"audio-{members}")
    p50, p99, overruns = tick_columns(text)
    encoders = re.findall(r"audio_encoders=(\d+)", text)
    enc = max(int(e) for e in encoders) if encoders else talkers + 1  # peak: all talkers active
    ideal = (members * costs["opus_decode_us"] + enc * costs["opus_encode_us"]) / 20000.0
    return {
        "members": members, "talkers": talkers, "joined": report.get("joined", 0),
        "cores": cores, "tick_p50_us": p50, "tick_p99_us": p99, "encoders": enc,
        "loss_pct": report.get("loss_pct"), "latency_p50_ms": report.get("latency_ms_p50"),
        "overhead": cores / ideal if ideal > 0 else None, "overruns": overruns,
        "members_per_core": members / cores if cores > 0 else None,
    }


def calibrate():
    return json.loads(subprocess.run([BIN, "loadgen", "--calibrate"], capture_output=True,
                                     text=True, check=True).stdout)


def mean_costs(a, b):
    return {k: (a[k] + b[k]) / 2 if isinstance(a[k], float) else a[k] for k in a}


def run_video(senders, watchers, duration, port):
    members = senders + watchers
    extra = ["--video-members", str(senders), "--video-watchers", str(watchers),
             "--video-send-only", "--video-size", "1280x720", "--video-fps", "30"]
    report, text, cores = run_load(members, 1, duration, port, extra,
                                   f"video-{senders}-{watchers}")
    p50, p99, overruns = tick_columns(text)
    views = re.findall(r"video view created.* views=(\d+)", text)
    views = max(int(v) for v in views) if views else 0
    # The server's own codec costs in this run (thread CPU time per frame, last 10 s window).
    stats = re.findall(r"video codec stats decodes=\d+ decode_us_mean=(\d+) encodes=\d+ "
                       r"encode_us_mean=(\d+)", text)
    in_server = (int(stats[-1][0]), int(stats[-1][1])) if stats else (0, 0)
    return {
        "server_decode_us": in_server[0], "server_encode_us": in_server[1],
        "senders": senders, "watchers": watchers, "joined": report.get("video_joined", 0),
        "cores": cores, "tick_p50_us": p50, "tick_p99_us": p99, "overruns": overruns,
        "views": views, "rx_fps": report.get("video_rx_fps", 0.0),
        "loss_pct": report.get("video_loss_pct", 0.0),
        "audio_loss_pct": report.get("loss_pct", 0.0),
        "plis": report.get("video_keyframe_requests", 0),
    }


def add_video_ratio(r, senders, watchers, costs):
    """Adds the ideal cost (senders' decodes + views' encodes + the audio ideal) and the
    overhead ratio to a video row, twice: with the H.264 costs the server itself measured
    during the row (thread CPU time, the primary figure) and with --calibrate's."""
    members = senders + watchers
    audio_ideal = (members * costs["opus_decode_us"] + 2 * costs["opus_encode_us"]) / 20000.0

    def ideal(decode_us, encode_us):
        return (senders * 30 * decode_us + r["views"] * 30 * encode_us) / 1e6 + audio_ideal

    served = ideal(r["server_decode_us"], r["server_encode_us"])
    calibrated = ideal(costs["h264_decode_us"], costs["h264_encode_us"])
    r["ideal"] = served
    r["overhead"] = r["cores"] / served if r["server_decode_us"] > 0 else float("nan")
    r["overhead_calibrated"] = r["cores"] / calibrated if calibrated > 0 else float("nan")
    r["h264_decode_us"] = costs["h264_decode_us"]
    r["h264_encode_us"] = costs["h264_encode_us"]
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,50,100,200,500",
                    help="audio-only room sizes ('' for none)")
    ap.add_argument("--talkers", type=int, default=3)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--video-senders", default="4,9,16", help="'' for no video rows")
    ap.add_argument("--video-watchers", default="1,10,50")
    args = ap.parse_args()
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release", "--bin", "tessera"], cwd=ROOT, check=True)
    costs = calibrate()
    print(f"# machine: {os.cpu_count()} cores; Opus encode {costs['opus_encode_us']:.1f} us, "
          f"decode {costs['opus_decode_us']:.1f} us per 20 ms frame; H.264 "
          f"{costs['h264_size']} P-frame encode {costs['h264_encode_us'] / 1000:.2f} ms, "
          f"decode {costs['h264_decode_us'] / 1000:.2f} ms (medians, this run)")
    port = 56000
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        print("| members | talkers | joined | server cores | tick p50 us | tick p99 us | encoders "
              "| loss % | latency p50 ms | members/core | overhead | tick overruns |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        port += 1
        r = run_size(size, min(args.talkers, size), args.duration, port, costs)
        print(f"| {r['members']} | {r['talkers']} | {r['joined']} | {r['cores']:.3f} "
              f"| {r['tick_p50_us']} | {r['tick_p99_us']} | {r['encoders']} | {r['loss_pct']:.3f} "
              f"| {r['latency_p50_ms']:.0f} | {r['members_per_core']:.0f} | {r['overhead']:.2f} "
              f"| {r['overruns']} |",
              flush=True)
    senders = [int(s) for s in args.video_senders.split(",") if s.strip()]
    watchers = [int(w) for w in args.video_watchers.split(",") if w.strip()]
    if senders:
        print()
        print("| senders 720p30 | watchers | video joined | views | server cores "
              "| H.264 dec/enc ms in server | ideal cores | overhead | H.264 dec/enc ms calibrated "
              "| overhead (calibrated) | rx fps | video loss % | audio loss % | PLIs | tick p50 us "
              "| tick p99 us | tick overruns |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in senders:
        for w in watchers:
            port += 1
            # The machine's speed drifts: codec costs are measured just before and just after
            # each video row and averaged.
            before = calibrate()
            r = run_video(s, w, args.duration, port)
            r = add_video_ratio(r, s, w, mean_costs(before, calibrate()))
            print(f"| {s} | {w} | {r['joined']} | {r['views']} | {r['cores']:.3f} "
                  f"| {r['server_decode_us'] / 1000:.2f}/{r['server_encode_us'] / 1000:.2f} "
                  f"| {r['ideal']:.3f} | {r['overhead']:.2f} "
                  f"| {r['h264_decode_us'] / 1000:.2f}/{r['h264_encode_us'] / 1000:.2f} "
                  f"| {r['overhead_calibrated']:.2f} | {r['rx_fps']:.1f} "
                  f"| {r['loss_pct']:.3f} | {r['audio_loss_pct']:.3f} | {r['plis']} "
                  f"| {r['tick_p50_us']} | {r['tick_p99_us']} | {r['overruns']} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
