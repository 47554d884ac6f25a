"""One repetition for one implementation: fresh namespaces, two daemons, every measurement.

Topology: namespaces A and B joined by one veth pair (underlay 198.18.0.1/.2), a daemon of
the implementation in each serving a tunnel interface (198.19.0.1/.2, MTU 1420) configured
with `wg set`, and an iperf3 server in B. A measurement that fails is recorded as an error
and the others still run; a daemon that dies ends the repetition.
"""

import os
import subprocess
import time

import measure
from lab import Lab, LabError, run, wait_until
from measure import MeasureError

UNDERLAY = ("198.18.0.1", "198.18.0.2")
TUNNEL = ("198.19.0.1", "198.19.0.2")
PORT = 51820
TUNNEL_MTU = 1420

# What each result key means, in table order: (key, label, unit, higher_is_better).
METRICS = [
    ("tcp1_gbps", "TCP, 1 stream", "Gbit/s", True),
    ("tcp4_gbps", "TCP, 4 streams", "Gbit/s", True),
    ("tcp_rev_gbps", "TCP, 1 stream reverse (-R)", "Gbit/s", True),
    ("udp_gbps", "UDP at max rate, received", "Gbit/s", True),
    ("udp_loss_pct", "UDP at max rate, loss", "%", False),
    ("cpu_s_per_gb", "CPU of both daemons per GB (TCP 1 stream)", "CPU s/GB", False),
    ("ping_idle_avg_ms", "ping idle, avg", "ms", False),
    ("ping_load_avg_ms", "ping under TCP load, avg", "ms", False),
    ("ping_load_p99_ms", "ping under TCP load, p99", "ms", False),
    ("ping_load_loss_pct", "ping under TCP load, loss", "%", False),
]


class Names:
    """Unique names for one (implementation, repetition); interface names stay within 15 chars."""

    def __init__(self, tag, code, rep):
        base = f"{tag}{code}{rep}"
        self.ns = (f"braidbench-{base}-a", f"braidbench-{base}-b")
        self.tun = (f"bb{base}a", f"bb{base}b")
        self.veth = (f"bv{base}a", f"bv{base}b")
        for name in self.tun + self.veth:
            if len(name) > 15:
                raise ValueError(f"interface name {name} is longer than 15 characters")


def _log_tail(proc, lines=15):
    try:
        with open(proc.log_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def _start_daemon(lab, impl, ns, ifname):
    socket = lab.expect_socket(ifname)
    proc = lab.spawn(ns, impl.command(ifname), f"{ifname}.log", impl.environment())

    def ready():
        if proc.poll() is not None:
            raise LabError(f"{impl.name} for {ifname} exited ({proc.returncode}):\n{_log_tail(proc)}")
        return os.path.exists(socket) and subprocess.run(
            ["ip", "-n", ns, "link", "show", ifname], capture_output=True, timeout=10, check=False
        ).returncode == 0

    wait_until(ready, 10, f"{impl.name} to create {ifname} and {socket}")
    return proc


def _keypair(log_dir, name):
    private = run(["wg", "genkey"]).strip()
    done = subprocess.run(["wg", "pubkey"], input=private, capture_output=True, text=True, timeout=10, check=True)
    public = done.stdout.strip()
    path = os.path.join(log_dir, f"{name}.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private + "\n")
    return path, public


def _start_iperf_server(lab, ns, name):
    proc = lab.spawn(ns, ["iperf3", "-s", "-B", TUNNEL[1], "-p", str(measure.IPERF_PORT)], f"{name}.iperf3.log")

    def listening():
        if proc.poll() is not None:
            raise LabError(f"iperf3 server exited:\n{_log_tail(proc)}")
        out = subprocess.run(
            ["ip", "netns", "exec", ns, "ss", "-Hltn", f"sport = :{measure.IPERF_PORT}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
        return bool(out.strip())

    wait_until(listening, 10, "the iperf3 server")
    return proc


def run_suite(impl, rep, tag, log_dir, seconds, ping_count, ping_interval, say, only=None):
    """Measures `impl` once; returns {metric: value} plus 'errors' and raw details. `only`, if
    given, is the list of step labels to run (e.g. ["TCP 1 stream + CPU"])."""
    names = Names(tag, impl.code, rep)
    result = {"impl": impl.name, "rep": rep, "errors": {}}
    with Lab(log_dir) as lab:
        ns_a, ns_b = names.ns
        lab.add_namespace(ns_a)
        lab.add_namespace(ns_b)
        lab.add_veth(ns_a, names.veth[0], f"{UNDERLAY[0]}/24", ns_b, names.veth[1], f"{UNDERLAY[1]}/24")
        daemons = [_start_daemon(lab, impl, ns, ifname) for ns, ifname in zip(names.ns, names.tun)]
        keys = [_keypair(log_dir, ifname) for ifname in names.tun]
        for side in (0, 1):
            other = 1 - side
            ns, ifname = names.ns[side], names.tun[side]
            run(
                ["ip", "netns", "exec", ns, "wg", "set", ifname, "private-key", keys[side][0],
                 "listen-port", str(PORT), "peer", keys[other][1],
                 "endpoint", f"{UNDERLAY[other]}:{PORT}", "allowed-ips", f"{TUNNEL[other]}/32"]
            )  # fmt: skip
            run(["ip", "-n", ns, "addr", "add", f"{TUNNEL[side]}/24", "dev", ifname])
            run(["ip", "-n", ns, "link", "set", ifname, "mtu", str(TUNNEL_MTU), "up"])
        server = _start_iperf_server(lab, ns_b, names.tun[1])
        measure.wait_tunnel(ns_a, TUNNEL[1])
        pids = [d.pid for d in daemons]

        def step(label, action):
            nonlocal server
            if only is not None and label not in only:
                return
            for d in daemons:
                if d.poll() is not None:
                    raise LabError(f"{impl.name} daemon died ({d.returncode}):\n{_log_tail(d)}")
            if server.poll() is not None:
                server = _start_iperf_server(lab, ns_b, names.tun[1])
            say(f"    {label} …")
            try:
                action()
            except MeasureError as exc:
                result["errors"][label] = str(exc)
                say(f"    {label}: FAILED: {exc}")
            time.sleep(1)  # let queues drain between tests

        def ping_idle():
            result["ping_idle_avg_ms"] = measure.ping(ns_a, TUNNEL[1], ping_count, ping_interval)["avg_ms"]

        def tcp1():
            gbps, nbytes, cpu = measure.tcp_with_cpu(ns_a, TUNNEL[1], seconds, pids)
            result["tcp1_gbps"] = gbps
            result["tcp1_bytes"] = nbytes
            result["cpu_s"] = {"sender": cpu[0], "receiver": cpu[1]}
            result["cpu_s_per_gb"] = sum(cpu) / (nbytes / 1e9) if nbytes else None

        def tcp4():
            data = measure.run_iperf(ns_a, measure.iperf_args(TUNNEL[1], seconds, streams=4), seconds)
            result["tcp4_gbps"] = measure.received(data)[0] / 1e9

        def tcp_rev():
            data = measure.run_iperf(ns_a, measure.iperf_args(TUNNEL[1], seconds, reverse=True), seconds)
            result["tcp_rev_gbps"] = measure.received(data)[0] / 1e9

        def ping_load():
            got = measure.ping_under_load(ns_a, TUNNEL[1], ping_count, ping_interval)
            result["ping_load_avg_ms"] = got["avg_ms"]
            result["ping_load_p99_ms"] = got["p99_ms"]
            result["ping_load_loss_pct"] = got["loss_pct"]
            result["ping_load_stream_gbps"] = got["load_gbps"]

        def udp():
            data = measure.run_iperf(ns_a, measure.iperf_args(TUNNEL[1], seconds, udp=True), seconds)
            bps, loss = measure.udp_received(data)
            result["udp_gbps"] = bps / 1e9
            result["udp_loss_pct"] = loss

        step("ping idle", ping_idle)
        step("TCP 1 stream + CPU", tcp1)
        step("TCP 4 streams", tcp4)
        step("TCP reverse", tcp_rev)
        step("ping under load", ping_load)
        step("UDP max rate", udp)
    return result
