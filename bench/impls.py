"""The three WireGuard implementations under test: how to start each and what version it is.

Every implementation runs in the foreground as a child of the benchmark (so its PID is
known for CPU accounting and cleanup) and is configured afterwards with `wg set` over the
UAPI socket it creates, exactly the same way for all three.
"""

import dataclasses
import os
import shutil
import subprocess


@dataclasses.dataclass(frozen=True)
class Impl:
    """One implementation: a display name, a 2-letter code for interface names, and how to run it."""

    name: str
    code: str
    program: str
    args: tuple  # arguments before the interface name
    env: tuple = ()  # extra environment, as (key, value) pairs

    def command(self, ifname):
        """The argv that serves `ifname` in the foreground."""
        return [self.program, *self.args, ifname]

    def environment(self):
        """Extra environment variables for the daemon."""
        return dict(self.env)


def all_impls(repo):
    """braid first (the subject), then the two anchors, in the interleaving order."""
    return [
        Impl("braid", "br", os.path.join(repo, "target", "release", "braid"), ("-f",)),
        Impl("wireguard-go", "wg", "wireguard-go", ("-f",), (("WG_PROCESS_FOREGROUND", "1"),)),
        # boringtun drops root after start unless told not to (the flag is also WG_SUDO=1).
        # Every implementation runs with its own default threading (boringtun: 4 threads).
        Impl("boringtun", "bt", "boringtun-cli", ("--foreground", "--disable-drop-privileges")),
        # Mullvad's maintained boringtun successor (`cargo install gotatun-cli`).
        Impl("gotatun", "gt", "gotatun", ("--foreground", "--disable-drop-privileges")),
    ]


def baseline_impl(program):
    """Another braid build (an earlier commit's binary), measured beside the current one."""
    return Impl("braid-base", "bb", program, ("-f",))


def _first_line(args):
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def versions(repo, impls):
    """Versions of everything measured and of the machine, for the report and the JSON."""
    info = {}
    for impl in impls:
        if impl.name == "braid-base":
            info[impl.name] = f"{_first_line([impl.program, '--version'])} ({impl.program})"
        elif impl.name == "braid":
            rev = _first_line(["git", "-C", repo, "rev-parse", "--short", "HEAD"])
            dirty = subprocess.run(
                ["git", "-C", repo, "status", "--porcelain", "--", "crates", "Cargo.lock"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
            info["braid"] = f"{_first_line([impl.program, '--version'])} (git {rev}{'+dirty' if dirty else ''})"
        else:
            info[impl.name] = _first_line([impl.program, "--version"])
    info["iperf3"] = _first_line(["iperf3", "--version"])
    info["kernel"] = os.uname().release
    info["cpu"] = cpu_model()
    info["cpus"] = os.cpu_count()
    info["memory"] = memory_total()
    return info


def cpu_model():
    """The CPU's model name from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def memory_total():
    """Total memory as 'N GiB' from /proc/meminfo."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / (1024 * 1024):.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def missing_tools(impls):
    """Programs the benchmark needs that are not installed (braid's binary is built, not listed)."""
    needed = ["ip", "wg", "iperf3", "ping"] + [i.program for i in impls if not i.name.startswith("braid")]
    return [p for p in needed if shutil.which(p) is None]
