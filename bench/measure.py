"""One implementation's measurements on a running tunnel: iperf3, CPU time, ping.

Each function runs one bounded client command inside the sending namespace and returns
plain numbers; the parsing helpers are separate (and unit-tested) so a change in a tool's
output shows up as a clear error rather than a wrong number.
"""

import json
import math
import re
import subprocess
import time

from lab import LabError, cpu_seconds

UDP_PAYLOAD = 1392  # tunnel MTU 1420 - 20 (IPv4) - 8 (UDP): no fragmentation inside the tunnel
IPERF_PORT = 5201


class MeasureError(RuntimeError):
    """A measurement could not be taken; the result records it instead of a number."""


def iperf_args(server, seconds, streams=1, reverse=False, udp=False):
    """The iperf3 client argv for one test (JSON output, bounded connect)."""
    args = ["iperf3", "-c", server, "-p", str(IPERF_PORT), "-t", str(seconds), "-J", "--connect-timeout", "3000"]
    if streams > 1:
        args += ["-P", str(streams)]
    if reverse:
        args.append("-R")
    if udp:
        args += ["-u", "-b", "0", "-l", str(UDP_PAYLOAD)]
    return args


def start_iperf(ns, args):
    """Starts an iperf3 client in `ns` without waiting (for latency under load)."""
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish_iperf(proc, seconds):
    """Waits (bounded) for a client from `start_iperf` and returns its parsed JSON."""
    try:
        out, err = proc.communicate(timeout=seconds + 25)
    except subprocess.TimeoutExpired as exc:
        _kill(proc)
        raise MeasureError(f"iperf3 did not finish within {seconds + 25} s") from exc
    except BaseException:
        _kill(proc)  # interrupted (signal): leave no client behind
        raise
    return parse_iperf_json(out, err)


def _kill(proc):
    proc.kill()
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def run_iperf(ns, args, seconds):
    """Runs one iperf3 client to completion and returns its parsed JSON."""
    return finish_iperf(start_iperf(ns, args), seconds)


def parse_iperf_json(out, err=""):
    """iperf3 -J output as a dict; its own error message when the test failed."""
    try:
        data = json.loads(out)
    except json.JSONDecodeError as exc:
        raise MeasureError(f"iperf3 printed no JSON: {err.strip() or out.strip()[:200]}") from exc
    if "error" in data:
        raise MeasureError(f"iperf3: {data['error']}")
    return data


def received(data):
    """(bits per second, bytes) as counted by the receiving side."""
    try:
        summary = data["end"]["sum_received"]
        return float(summary["bits_per_second"]), int(summary["bytes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MeasureError("iperf3 JSON has no end.sum_received") from exc


def udp_received(data):
    """(received bits per second, loss percent) of a UDP test."""
    try:
        summary = data["end"]["sum_received"]
        return float(summary["bits_per_second"]), float(summary["lost_percent"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MeasureError("iperf3 UDP JSON has no end.sum_received.lost_percent") from exc


def tcp_with_cpu(ns, server, seconds, pids):
    """One TCP stream; returns (Gbit/s, bytes, CPU seconds of `pids` during the test)."""
    before = [cpu_seconds(pid) for pid in pids]
    data = run_iperf(ns, iperf_args(server, seconds), seconds)
    after = [cpu_seconds(pid) for pid in pids]
    bps, nbytes = received(data)
    return bps / 1e9, nbytes, [b - a for a, b in zip(before, after)]


_PING_TIME = re.compile(r"\btime=([0-9.]+) ms")
_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


def parse_ping(text):
    """(round-trip times in ms, transmitted, received) from iputils ping output."""
    rtts = [float(m.group(1)) for m in _PING_TIME.finditer(text)]
    summary = _PING_SUMMARY.search(text)
    if summary is None:
        raise MeasureError("ping printed no summary line")
    return rtts, int(summary.group(1)), int(summary.group(2))


def percentile(values, pct):
    """Nearest-rank percentile (p99 of 50 samples is the largest); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ping(ns, dst, count, interval):
    """`count` pings at `interval` seconds; returns {avg_ms, p99_ms, loss_pct}."""
    args = ["ip", "netns", "exec", ns, "ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1", dst]
    bound = count * interval + 10
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=bound, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MeasureError(f"ping did not finish within {bound} s") from exc
    rtts, sent, got = parse_ping(done.stdout)
    if not rtts:
        raise MeasureError(f"no ping answered ({sent} sent)")
    return {
        "avg_ms": sum(rtts) / len(rtts),
        "p99_ms": percentile(rtts, 99),
        "loss_pct": 100.0 * (sent - got) / sent if sent else 100.0,
    }


def ping_under_load(ns, server, count, interval, settle=1.5):
    """Pings while one TCP stream saturates the tunnel (the stream starts `settle` s earlier)."""
    seconds = math.ceil(settle + count * interval + 2)
    load = start_iperf(ns, iperf_args(server, seconds))
    try:
        time.sleep(settle)
        if load.poll() is not None:
            raise MeasureError("the load stream ended before the pings started")
        result = ping(ns, server, count, interval)
    except BaseException:
        _kill(load)
        raise
    data = finish_iperf(load, seconds)
    result["load_gbps"] = received(data)[0] / 1e9
    return result


def wait_tunnel(ns, dst, timeout=15):
    """Pings until the tunnel answers (the first ping triggers the handshake)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["ip", "netns", "exec", ns, "ping", "-n", "-c", "1", "-W", "1", dst],
            capture_output=True,
            timeout=10,
            check=False,
        )
        if done.returncode == 0:
            return
    raise LabError(f"the tunnel to {dst} did not answer within {timeout} s")
