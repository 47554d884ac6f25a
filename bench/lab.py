"""Namespaces, veth pairs and the processes started in them, all torn down again.

A `Lab` remembers every name it makes up (namespaces, interfaces, UAPI socket paths) and
every process it starts, and `close()` removes exactly those: processes by PID (SIGTERM,
then SIGKILL after a bounded wait), then the namespaces by name (which takes the veth pair
and any TUN device left in them along), then socket files a killed daemon left behind.
Nothing here touches a name the lab did not create, so several labs (or other engineers'
tests) can share the machine.
"""

import os
import signal
import subprocess
import time

WG_RUN_DIR = "/var/run/wireguard"


class LabError(RuntimeError):
    """A setup step failed; the message says which command and why."""


def run(args, timeout=20, check=True, env=None):
    """Runs a short command with a bounded wait and returns its stdout as text."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(args)}` did not finish within {timeout} s") from exc
    if check and done.returncode != 0:
        raise LabError(f"`{' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def cpu_seconds(pid):
    """User + system CPU time of a whole process (all its threads) from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        text = f.read()
    return parse_stat_cpu(text) / os.sysconf("SC_CLK_TCK")


def parse_stat_cpu(stat_text):
    """utime + stime in clock ticks; the command name may contain spaces and ')'."""
    rest = stat_text[stat_text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(rest[11]) + int(rest[12])


class Lab:
    """Owns what one benchmark run creates; use as a context manager."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.procs = []  # (Popen, description)
        self.namespaces = []
        self.sockets = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # --- topology -------------------------------------------------------------------------

    def add_namespace(self, name):
        """Creates a namespace with loopback up; it is deleted on close."""
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def add_veth(self, ns_a, dev_a, addr_a, ns_b, dev_b, addr_b):
        """A veth pair with one end in each namespace, addressed and up."""
        run(["ip", "link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b])
        for ns, dev, addr in ((ns_a, dev_a, addr_a), (ns_b, dev_b, addr_b)):
            run(["ip", "-n", ns, "addr", "add", addr, "dev", dev])
            run(["ip", "-n", ns, "link", "set", dev, "up"])

    # --- processes ------------------------------------------------------------------------

    def spawn(self, ns, args, log_name, env=None):
        """Starts `args` inside `ns` (ip netns exec execs it, so the PID is the program's own)."""
        log_path = os.path.join(self.log_dir, log_name)
        log = open(log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        try:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,
            )
        finally:
            log.close()
        proc.log_path = log_path
        self.procs.append(proc)
        return proc

    def expect_socket(self, ifname):
        """Records the UAPI socket path a daemon for `ifname` will create."""
        path = os.path.join(WG_RUN_DIR, f"{ifname}.sock")
        self.sockets.append(path)
        return path

    def stop(self, proc, grace=3.0):
        """SIGTERM by PID, bounded wait, then SIGKILL and reap."""
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            except ProcessLookupError:
                pass
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self):
        """Removes everything this lab created, in reverse order; never raises."""
        for proc in reversed(list(self.procs)):
            try:
                self.stop(proc)
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20, check=False)
        self.namespaces = []
        for path in self.sockets:
            try:
                os.unlink(path)
            except OSError:
                pass
        self.sockets = []


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls `predicate` until it is true or `timeout` seconds pass (then raises)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise LabError(f"timed out after {timeout} s waiting for {what}")
