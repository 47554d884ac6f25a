#!/usr/bin/env python3
"""Rootless forwarding: `braid forward` against onetun, and braid's TUN path, in one run.

Run as root (it builds namespaces; braid forward and onetun themselves run as nobody):

    sudo python3 bench/rootless.py [--rtts 0,10,100] [--seconds 5] [--reps 2] [--idle 1000]

Namespace A holds the client side, namespace B a Debian wireguard-go peer with an iperf3
server behind it (198.19.0.2). For each added round trip (bench/delay-relay, the project's
own UDP relay holding each datagram RTT/2 each way; this machine has no netem) and each
repetition, interleaved, one TCP stream of iperf3 for SECONDS through:
  * `braid forward -L` (braid's userspace TCP/IP stack; iperf3 in A connects to 127.0.0.1);
  * onetun (`cargo install onetun`) forwarding the same way, with its own key and address;
  * braid's TUN path: a braid daemon in A and the kernel's TCP at both ends.
Then IDLE idle TCP connections held open through braid forward and through onetun, and the
resident memory each needed for them. Prints a table of medians with the ratios; nothing is
asserted.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import measure  # noqa: E402
from lab import Lab, LabError, run, wait_until  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WG_PORT = 51002
IPERF_PORT = 5201
HOLD_PORT = 7000
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

# Accepts connections and keeps them open (for the idle-connection memory test).
HOLD_SERVER = """
import selectors, socket
sel = selectors.DefaultSelector()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("198.19.0.2", %d)); srv.listen(4096); sel.register(srv, selectors.EVENT_READ)
held = []
while True:
    for key, _ in sel.select():
        if key.fileobj is srv:
            c, _ = srv.accept(); held.append(c)
""" % HOLD_PORT

# Opens N connections to 127.0.0.1:PORT, prints how many got through, holds them until stdin closes.
HOLD_CLIENT = """
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10); held.append(s)
time.sleep(2)
print(len(held), flush=True)
sys.stdin.read()
"""


def keypair():
    private = run(["wg", "genkey"]).strip()
    public = subprocess.run(["wg", "pubkey"], input=private, capture_output=True, text=True, check=True).stdout.strip()
    return private, public


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def version(args):
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


class Bench:
    def __init__(self, lab, work, braid, relay, onetun):
        self.lab, self.work, self.braid, self.relay_bin, self.onetun = lab, work, braid, relay, onetun
        self.keys = {name: keypair() for name in ("peer", "forward", "onetun", "tun")}
        lab.add_namespace("braidroot-a")
        lab.add_namespace("braidroot-b")
        lab.add_veth("braidroot-a", "ul0", "198.18.0.1/24", "braidroot-b", "ul0", "198.18.0.2/24")
        # B: wireguard-go, one peer per client with its own tunnel address.
        self.wg_b = "wgroot"
        sock = lab.expect_socket(self.wg_b)
        lab.spawn("braidroot-b", ["wireguard-go", "-f", self.wg_b], "wgo.log", {"WG_PROCESS_FOREGROUND": "1"})
        wait_until(lambda: os.path.exists(sock), 10, "wireguard-go's socket")
        key_file = self.write("peer.key", self.keys["peer"][0] + "\n")
        args = ["wg", "set", self.wg_b, "listen-port", str(WG_PORT), "private-key", key_file]
        for name, addr in (("forward", "198.19.0.1"), ("onetun", "198.19.0.3"), ("tun", "198.19.0.4")):
            args += ["peer", self.keys[name][1], "allowed-ips", f"{addr}/32"]
        run(["ip", "netns", "exec", "braidroot-b", *args])
        run(["ip", "-n", "braidroot-b", "addr", "add", "198.19.0.2/24", "dev", self.wg_b])
        run(["ip", "-n", "braidroot-b", "link", "set", self.wg_b, "mtu", "1420", "up"])
        lab.spawn("braidroot-b", ["python3", "-c", HOLD_SERVER], "hold.log")
        self.runs = 0
        time.sleep(0.5)

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.work, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def endpoint(self, rtt_ms, port):
        """The peer's endpoint as the client should use it: through a relay when RTT is added."""
        if rtt_ms == 0:
            return None, f"198.18.0.2:{WG_PORT}"
        relay = self.lab.spawn(
            "braidroot-a", [self.relay_bin, f"127.0.0.1:{port}", f"198.18.0.2:{WG_PORT}", str(rtt_ms // 2)], f"relay{port}.log"
        )
        time.sleep(0.2)
        return relay, f"127.0.0.1:{port}"

    def iperf(self, server, port, seconds):
        args = ["iperf3", "-c", server, "-p", str(port), "-t", str(seconds), "-J", "--connect-timeout", "5000"]
        bps, _ = measure.received(measure.run_iperf("braidroot-a", args, seconds))
        return bps / 1e6

    def iperf_server(self):
        """A one-test iperf3 server on a fresh port (a client that leaves a test half-closed,
        as onetun's can, must not block the next one)."""
        self.runs += 1
        port = IPERF_PORT + self.runs
        self.lab.spawn("braidroot-b", ["iperf3", "-s", "-1", "-B", "198.19.0.2", "-p", str(port)], f"iperf3-{port}.log")
        time.sleep(0.3)
        return port

    def start_forward(self, endpoint, local_port, target):
        conf = self.write(
            "rootless.conf",
            f"[Interface]\nPrivateKey = {self.keys['forward'][0]}\nAddress = 198.19.0.1/24\n\n"
            f"[Peer]\nPublicKey = {self.keys['peer'][1]}\nEndpoint = {endpoint}\nAllowedIPs = 198.19.0.0/24\n",
        )
        os.chown(conf, 65534, 65534)
        proc = self.lab.spawn(
            "braidroot-a",
            [*NOBODY, self.braid, "forward", conf, "-L", f"127.0.0.1:{local_port}:{target}"],
            f"forward-{local_port}-{self.runs}.log",
            {"XDG_RUNTIME_DIR": self.work + "/run"},
        )
        wait_until(lambda: "braid show" in open(proc.log_path, errors="replace").read(), 15, "braid forward")
        return proc

    def start_onetun(self, endpoint, local_port, target):
        proc = self.lab.spawn(
            "braidroot-a",
            [
                *NOBODY,
                self.onetun,
                f"127.0.0.1:{local_port}:{target}",
                "--endpoint-addr", endpoint,
                "--endpoint-public-key", self.keys["peer"][1],
                "--private-key", self.keys["onetun"][0],
                "--source-peer-ip", "198.19.0.3",
                "--keep-alive", "10",
            ],
            f"onetun-{local_port}-{self.runs}.log",
        )
        time.sleep(1.0)
        if proc.poll() is not None:
            raise LabError("onetun exited: " + open(proc.log_path, errors="replace").read()[-500:])
        return proc

    def start_tun(self, endpoint):
        sock = self.lab.expect_socket("wgtun")
        proc = self.lab.spawn("braidroot-a", [self.braid, "-f", "wgtun"], f"tun-{self.runs}.log")
        wait_until(lambda: os.path.exists(sock), 10, "braid's socket")
        key = self.write("tun.key", self.keys["tun"][0] + "\n")
        run(["ip", "netns", "exec", "braidroot-a", "wg", "set", "wgtun", "private-key", key,
             "peer", self.keys["peer"][1], "endpoint", endpoint, "allowed-ips", "198.19.0.2/32"])
        run(["ip", "-n", "braidroot-a", "addr", "add", "198.19.0.4/24", "dev", "wgtun"])
        run(["ip", "-n", "braidroot-a", "link", "set", "wgtun", "mtu", "1420", "up"])
        return proc

    def one(self, kind, rtt, seconds, relay_port):
        relay, endpoint = self.endpoint(rtt, relay_port)
        server = self.iperf_server()
        try:
            if kind == "braid forward":
                proc = self.start_forward(endpoint, 15201, f"198.19.0.2:{server}")
                return self.iperf("127.0.0.1", 15201, seconds), proc
            if kind == "onetun":
                proc = self.start_onetun(endpoint, 25201, f"198.19.0.2:{server}")
                return self.iperf("127.0.0.1", 25201, seconds), proc
            proc = self.start_tun(endpoint)
            run(["ip", "netns", "exec", "braidroot-a", "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.19.0.2"], check=False)
            return self.iperf("198.19.0.2", server, seconds), proc
        finally:
            if relay is not None:
                self.lab.stop(relay)

    def idle(self, kind, count):
        """RSS growth (KiB) of the forwarder for `count` idle connections, and how many opened."""
        self.runs += 1
        port = 17000 if kind == "braid forward" else 27000
        target = f"198.19.0.2:{HOLD_PORT}"
        proc = self.start_forward(f"198.18.0.2:{WG_PORT}", port, target) if kind == "braid forward" else \
            self.start_onetun(f"198.18.0.2:{WG_PORT}", port, target)
        client = None
        try:
            before = rss_kib(proc.pid)
            client = subprocess.Popen(
                ["ip", "netns", "exec", "braidroot-a", "python3", "-c", HOLD_CLIENT, str(port), str(count)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            opened = int(client.stdout.readline().strip() or 0)
            after = rss_kib(proc.pid)
            return after - before, opened
        finally:
            if client is not None:
                client.stdin.close()
                client.wait(timeout=20)
            self.lab.stop(proc)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rtts", default="0,10,100", help="added round trips in ms (default 0,10,100)")
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--idle", type=int, default=1000, help="idle connections for the memory test (0: skip)")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark builds network namespaces")
    subprocess.run(["cargo", "build", "--release", "-p", "braid", "-p", "delay-relay"], cwd=REPO, check=True)
    onetun = shutil.which("onetun") or os.path.expanduser("~/.cargo/bin/onetun")
    if not os.path.exists(onetun):
        sys.exit("onetun is missing: cargo install onetun")
    rtts = [int(r) for r in args.rtts.split(",")]
    kinds = ["braid forward", "onetun", "braid TUN + kernel TCP"]
    results = {(k, r): [] for k in kinds for r in rtts}
    work = tempfile.mkdtemp(prefix="braid-rootless-bench-")
    os.chmod(work, 0o755)
    os.mkdir(os.path.join(work, "run"))
    os.chown(os.path.join(work, "run"), 65534, 65534)
    braid = os.path.join(work, "braid")
    relay = os.path.join(work, "delay-relay")
    for src, dst in ((os.path.join(REPO, "target/release/braid"), braid), (os.path.join(REPO, "target/release/delay-relay"), relay)):
        shutil.copy(src, dst)
        os.chmod(dst, 0o755)
    onetun_copy = os.path.join(work, "onetun")
    shutil.copy(onetun, onetun_copy)
    os.chmod(onetun_copy, 0o755)
    print(f"braid: {version([braid, '--version'])} (git {version(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'])}); "
          f"onetun: {version([onetun_copy, '--version'])}; wireguard-go: {version(['wireguard-go', '--version'])}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    idle = {}
    with Lab(work) as lab:
        bench = Bench(lab, work, braid, relay, onetun_copy)
        port = 6000
        for rep in range(args.reps):
            for rtt in rtts:
                for kind in kinds:
                    port += 1
                    try:
                        mbps, proc = bench.one(kind, rtt, args.seconds, port)
                        lab.stop(proc)
                        results[(kind, rtt)].append(mbps)
                        print(f"  rep {rep + 1} rtt +{rtt} ms {kind}: {mbps:.1f} Mbit/s", flush=True)
                    except (LabError, measure.MeasureError, subprocess.SubprocessError) as e:
                        print(f"  rep {rep + 1} rtt +{rtt} ms {kind}: failed: {e}", flush=True)
                    if kind == "braid TUN + kernel TCP":
                        run(["ip", "-n", "braidroot-a", "link", "del", "wgtun"], check=False)
        if args.idle:
            for kind in ("braid forward", "onetun"):
                try:
                    idle[kind] = bench.idle(kind, args.idle)
                except (LabError, OSError, ValueError, subprocess.SubprocessError) as e:
                    print(f"  idle {kind}: failed: {e}")
    print("\n| added RTT | braid forward | onetun | braid TUN + kernel TCP | forward / onetun | forward / TUN |")
    print("|---|---|---|---|---|---|")
    for rtt in rtts:
        med = {k: statistics.median(results[(k, rtt)]) if results[(k, rtt)] else None for k in kinds}
        cell = lambda v: f"{v:.1f} Mbit/s" if v else "—"  # noqa: E731
        ratio = lambda a, b: f"{a / b:.1f}×" if a and b else "—"  # noqa: E731
        print(f"| {rtt} ms | {cell(med[kinds[0]])} | {cell(med[kinds[1]])} | {cell(med[kinds[2]])} | "
              f"{ratio(med[kinds[0]], med[kinds[1]])} | {ratio(med[kinds[0]], med[kinds[2]])} |")
    for kind, (kib, opened) in idle.items():
        print(f"\n{kind}: {opened} idle connections, +{kib / 1024:.1f} MiB resident ({kib * 1024 / max(opened, 1):.0f} B each)")


if __name__ == "__main__":
    main()
