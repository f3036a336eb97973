#!/usr/bin/env python3
"""Whole-room load benchmark: starts `tessera serve`, drives it with `tessera loadgen` at a
series of sizes, samples the server's CPU time from /proc and prints a table.

    python3 benches/room_load.py                 # audio 10/50/100/200/500, many rooms, noisy
                                                 # rooms, then video rows
    python3 benches/room_load.py --sizes 10,100  # a subset of the audio sizes
    python3 benches/room_load.py --sizes '' --rooms-rows 100 --noisy-sizes '' --video-senders ''
    python3 benches/room_load.py --video-senders 9 --video-watchers 1,50 --sizes ''
    python3 benches/room_load.py --duration 30   # longer runs (default 20 s each)

Everything runs on loopback; every run is bounded by --duration. Needs the release binary
(`cargo build --release`; the script builds it when missing).

Audio columns: members, talkers, joined, server CPU in cores (steady state), mix tick p50/p99
(from the server's periodic "media tick stats" log line), audio encoders in use, RTP loss seen
by the generator, and the overhead ratio = server CPU / (members x Opus decode + encoders x
Opus encode), with both codec costs measured on this machine in the same run (loadgen
--calibrate). "missing %" is what the clock says the server owed the members and did not send
(one packet per 20 ms of each call, loadgen's missing_pct), which unlike RTP loss counts ticks
an overloaded server skips; "worst %" is the worst member's.

Many-rooms rows (--rooms-rows, default 100,1000): that many rooms of --room-size members (3)
with one talker each. Noisy rows (--noisy-sizes, default 100,200,500): one room whose
listeners all send --listener-sound (speech-like sound at -24 dBFS) and --talkers loud
talkers. Their encoder column is the server's tessera_audio_encoders gauge (all rooms), read
from /metrics in the steady state (the largest of two readings).

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
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tessera")
LIMITS = os.path.join(ROOT, "benches", "load_limits.toml")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def audio_encoders_gauge(api_port):
    """The server's audio encoders in use, all rooms (None when /metrics does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    found = re.search(r"^tessera_audio_encoders (\d+)", text, re.M)
    return int(found.group(1)) if found else None


def run_load(members, talkers, duration, port, extra, tag):
    """Runs one server + loadgen pair; returns (report, server log text, cores, peak of the
    audio encoders gauge in the steady state)."""
    log_path = f"/tmp/tessera-room-load-{tag}.log"
    log = open(log_path, "w")
    api_port = port + 1000
    server = subprocess.Popen(
        [BIN, "serve", "--sip-listen", f"127.0.0.1:{port}", "--rtp-ports", "40000-49999",
         "--api-listen", f"127.0.0.1:{api_port}", "--rtp-timeout", "60", "--config", LIMITS],
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
    steady = max(1.0, duration - ramp_s - 2)
    time.sleep(steady / 2)
    gauges = [audio_encoders_gauge(api_port)]
    time.sleep(steady / 2)
    c1, t1 = cpu_seconds(server.pid), time.monotonic()
    gauges.append(audio_encoders_gauge(api_port))
    out, _ = gen.communicate(timeout=duration + 60)
    server.terminate()
    server.wait(timeout=30)
    log.close()
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    gauges = [g for g in gauges if g is not None]
    return report, open(log_path).read(), (c1 - c0) / (t1 - t0), max(gauges, default=None)


def tick_columns(text):
    """The last "media tick stats" window of each media thread, the worst thread's p50 and
    p99 (a single room is on one thread: its last line)."""
    last = {}
    for thread, p50, p99 in re.findall(
            r"thread=(\d+) .*?tick_p50_us=(\d+) tick_p99_us=(\d+)", text):
        last[thread] = (int(p50), int(p99))
    return (max((t[0] for t in last.values()), default=None),
            max((t[1] for t in last.values()), default=None),
            text.count("media tick overrun"))


def run_audio(members, talkers, duration, port, extra, tag):
    """One audio row: the columns every audio table shares."""
    report, text, cores, gauge = run_load(members, talkers, duration, port, extra, tag)
    p50, p99, overruns = tick_columns(text)
    return {
        "members": members, "talkers": talkers, "joined": report.get("joined", 0),
        "cores": cores, "tick_p50_us": p50, "tick_p99_us": p99, "overruns": overruns,
        "loss_pct": report.get("loss_pct", 0.0),
        "missing_pct": report.get("missing_pct", 0.0),
        "missing_worst_pct": report.get("missing_per_member_max_pct", 0.0),
        "latency_p50_ms": report.get("latency_ms_p50", 0.0),
        "latency_samples": report.get("latency_samples", 0),
        "encoders_gauge": gauge, "log": text,
    }


def run_size(members, talkers, duration, port, costs):
    r = run_audio(members, talkers, duration, port, [], f"audio-{members}")
    encoders = re.findall(r"audio_encoders=(\d+)", r.pop("log"))
    enc = max(int(e) for e in encoders) if encoders else talkers + 1  # peak: all talkers active
    ideal = (members * costs["opus_decode_us"] + enc * costs["opus_encode_us"]) / 20000.0
    cores = r["cores"]
    r.update({
        "encoders": enc, "overhead": cores / ideal if ideal > 0 else None,
        "members_per_core": members / cores if cores > 0 else None,
    })
    return r


def run_rooms(rooms, room_size, duration, port):
    """Many small rooms, one talker in each."""
    r = run_audio(rooms * room_size, 1, duration, port, ["--rooms", str(rooms)],
                  f"rooms-{rooms}x{room_size}")
    r.pop("log")
    r["rooms"] = rooms
    return r


def run_noisy(members, talkers, sound, duration, port):
    """One room whose listeners all send `sound` (e.g. "speech -24")."""
    r = run_audio(members, talkers, duration, port, ["--listener-sound"] + sound.split(),
                  f"noisy-{members}")
    r.pop("log")
    return r


def shared_cells(r):
    """The cells the many-rooms and noisy tables share, from joined on."""
    return (f"| {r['joined']} | {r['cores']:.3f} | {r['tick_p50_us']} | {r['tick_p99_us']} "
            f"| {r['encoders_gauge']} | {r['missing_pct']:.2f} | {r['missing_worst_pct']:.2f} "
            f"| {r['loss_pct']:.3f} | {r['latency_p50_ms']:.0f} ({r['latency_samples']}) "
            f"| {r['overruns']} |")


def print_shared_table(lead_columns, values, port, run, lead_cells):
    """Prints a table of `lead_columns` and the shared columns, a row per value: `run(value,
    port)` measures it (each on a port of its own), `lead_cells(value, row)` its first cells.
    Returns the last port used."""
    if values:
        print()
        print("| " + " | ".join(lead_columns) + " " + SHARED_HEADER)
        print("|---" * (len(lead_columns) + SHARED_HEADER.count("|") - 1) + "|")
    for value in values:
        port += 1
        r = run(value, port)
        lead = " | ".join(str(c) for c in lead_cells(value, r))
        print(f"| {lead} " + shared_cells(r), flush=True)
    return port


SHARED_HEADER = ("| joined | server cores | tick p50 us | tick p99 us | encoders | missing % "
                 "| worst member missing % | loss % | latency p50 ms (samples) | tick overruns |")


def calibrate():
    return json.loads(subprocess.run([BIN, "loadgen", "--calibrate"], capture_output=True,
                                     text=True, check=True).stdout)


def mean_costs(a, b):
    return {k: (a[k] + b[k]) / 2 if isinstance(a[k], float) else a[k] for k in a}


def run_video(senders, watchers, duration, port):
    members = senders + watchers
    extra = ["--video-members", str(senders), "--video-watchers", str(watchers),
             "--video-send-only", "--video-size", "1280x720", "--video-fps", "30"]
    report, text, cores, _encoders = run_load(members, 1, duration, port, extra,
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
    ap.add_argument("--rooms-rows", default="100,1000",
                    help="many-rooms rows: numbers of rooms ('' for none)")
    ap.add_argument("--room-size", type=int, default=3, help="members per room in those rows")
    ap.add_argument("--noisy-sizes", default="100,200,500",
                    help="noisy-room rows: room sizes ('' for none)")
    ap.add_argument("--listener-sound", default="speech -24",
                    help="what the noisy rooms' listeners send (loadgen --listener-sound)")
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
              "| loss % | missing % | latency p50 ms | members/core | overhead | tick overruns |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        port += 1
        r = run_size(size, min(args.talkers, size), args.duration, port, costs)
        print(f"| {r['members']} | {r['talkers']} | {r['joined']} | {r['cores']:.3f} "
              f"| {r['tick_p50_us']} | {r['tick_p99_us']} | {r['encoders']} | {r['loss_pct']:.3f} "
              f"| {r['missing_pct']:.2f} | {r['latency_p50_ms']:.0f} "
              f"| {r['members_per_core']:.0f} | {r['overhead']:.2f} | {r['overruns']} |",
              flush=True)
    rooms_rows = [int(n) for n in args.rooms_rows.split(",") if n.strip()]
    port = print_shared_table(
        ["rooms", "members per room", "talkers per room", "members"], rooms_rows, port,
        lambda rooms, p: run_rooms(rooms, args.room_size, args.duration, p),
        lambda rooms, r: [rooms, args.room_size, 1, r["members"]])
    noisy = [int(n) for n in args.noisy_sizes.split(",") if n.strip()]
    port = print_shared_table(
        ["members", "loud talkers", "listeners send"], noisy, port,
        lambda size, p: run_noisy(size, min(args.talkers, size), args.listener_sound,
                                  args.duration, p),
        lambda size, r: [size, r["talkers"], args.listener_sound])
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
