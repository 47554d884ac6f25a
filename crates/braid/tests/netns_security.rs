//! The security review's black-box checks (docs/SECURITY.md), each run as root in a namespace
//! of its own, the way an attacker or a careless admin would try them.

mod netns;

use netns::{Impl, Netns};
use std::process::Command;

fn braid(ns: &Netns, args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["20", "ip", "netns", "exec", ns.name()])
        .arg(env!("CARGO_BIN_EXE_braid"))
        .args(args)
        .output()
        .expect("run braid");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// Finding 7: `ip tuntap add X mode tun` then `braid -f X` attached to it, so the device's
/// owner could add a queue and read the plaintext. Now braid refuses, naming the device, and
/// leaves it as it was.
#[test]
fn an_existing_tun_is_refused() {
    if !netns::ready("an_existing_tun_is_refused", &["ip", "timeout"], &[Impl::Braid]) {
        return;
    }
    let ns = Netns::new();
    let ifname = netns::names::ifname();
    ns.ip(&["tuntap", "add", &ifname, "mode", "tun"]);
    let (ok, text) = braid(&ns, &["-f", &ifname]);
    assert!(!ok, "braid attached to an existing TUN:\n{text}");
    assert!(text.contains(&format!("interface {ifname} exists already")), "{text}");
    assert!(ns.has_link(&ifname), "the existing device is left alone");
    assert!(!netns::daemon::socket_path(&ifname).exists(), "no control socket was made");
}

/// Finding 6: `braid down ../../tmp/x` removed `/tmp/x.sock` and said "is down"; `braid down
/// NAME` deleted any link of that name; a name starting with `-` became an option. Now one
/// name check guards every entry, and only an interface a live daemon serves is taken down.
#[test]
fn interface_names_are_checked_and_only_braid_interfaces_are_taken_down() {
    if !netns::ready("interface_names_are_checked", &["ip", "timeout"], &[Impl::Braid]) {
        return;
    }
    let ns = Netns::new();
    let scratch = netns::Scratch::new();
    let victim = scratch.path().join("x.sock");
    std::fs::write(&victim, b"not a socket").unwrap();
    let traversal = format!("../../..{}", scratch.path().join("x").display());
    let (ok, text) = braid(&ns, &["down", &traversal]);
    assert!(!ok && text.contains("invalid interface name"), "{text}");
    assert!(victim.exists(), "nothing outside the socket directory is removed");
    // A TUN that is not braid's keeps existing.
    let dummy = netns::names::ifname();
    ns.ip(&["tuntap", "add", &dummy, "mode", "tun"]);
    let (ok, text) = braid(&ns, &["down", &dummy]);
    assert!(!ok, "{text}");
    assert!(ns.has_link(&dummy), "braid down removed a link it does not serve:\n{text}");
    // A name that looks like an option is refused, by the daemon and by `up`'s file name.
    let (ok, text) = braid(&ns, &["--", "-evil"]);
    assert!(!ok && text.contains("invalid interface name \"-evil\""), "{text}");
    let conf = scratch.write("-f.conf", "[Interface]\nPrivateKey = aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28=\n");
    let (ok, text) = braid(&ns, &["up", conf.to_str().unwrap()]);
    assert!(!ok, "{text}");
}

/// Finding 3: the socket was bound with the process umask and made 0600 only afterwards, and
/// a connection made in between was served in full (`get=1` returns the private key). Now the
/// socket is 0600 from the moment it appears, and a client of another user is not served even
/// if it got a connection (here: the mode widened by hand, as the old window allowed).
#[test]
fn the_control_socket_serves_only_root_and_its_own_user() {
    if !netns::ready("the_control_socket_serves_only", &["ip", "python3", "setpriv"], &[Impl::Braid]) {
        return;
    }
    let ns = Netns::new();
    let scratch = netns::Scratch::new();
    let dev = netns::WgDevice::start(Impl::Braid, &ns, &scratch, 51820);
    let path = netns::daemon::socket_path(dev.ifname());
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the socket is 0600");
    let leftovers: Vec<_> = std::fs::read_dir(netns::daemon::SOCKET_DIR)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!(".{}.", dev.ifname())))
        .collect();
    assert!(leftovers.is_empty(), "the private bind directory is gone");
    // Widen the mode, as a umask of 000 did for a moment on 1a8c593, and connect as nobody.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.sendall(b'get=1\\n\\n')\ns.settimeout(5)\nout=b''\nwhile True:\n    b=s.recv(4096)\n    if not b: break\n    out+=b\nsys.stdout.write(out.decode())\n";
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "python3", "-c", script, path.to_str().unwrap()])
        .output()
        .expect("run the client");
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(!reply.contains("private_key"), "another user was served: {reply}");
    assert!(!reply.contains("errno="), "another user got an answer: {reply}");
    // Root still is served.
    assert!(dev.show("private-key").len() > 40);
}

fn braid_env(ns: &Netns, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["20", "ip", "netns", "exec", ns.name()])
        .arg(env!("CARGO_BIN_EXE_braid"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run braid");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// Finding 5: a config file others can write ran its hooks as root (owner and mode never
/// checked, symlinks followed, hooks run with the caller's whole environment and PATH). Now
/// such a file is refused before any hook runs, and hooks see a fixed environment.
#[test]
fn a_config_file_others_can_change_is_refused_and_hooks_get_a_fixed_environment() {
    use std::os::unix::fs::PermissionsExt;
    if !netns::ready("a_config_file_others_can_change", &["ip", "timeout"], &[Impl::Braid]) {
        return;
    }
    let ns = Netns::new();
    let scratch = netns::Scratch::new();
    let key = netns::wg::Keys::generate();
    let marker = scratch.path().join("hook-ran");
    let env_dump = scratch.path().join("hook-env");
    let ifname = netns::names::ifname();
    let conf = |pre_up: &str| format!("[Interface]\nPrivateKey = {}\nPreUp = {pre_up}\n", key.private);
    // Writable by others: refused, its hook never runs.
    let open = scratch.write(&format!("{ifname}.conf"), &conf(&format!("touch {}", marker.display())));
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (ok, text) = braid(&ns, &["up", open.to_str().unwrap()]);
    assert!(!ok && text.contains("others may write to it"), "{text}");
    assert!(!marker.exists(), "the hook of a refused file ran");
    // A symbolic link to a good file: refused.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link_dir = scratch.path().join("links");
    std::fs::create_dir(&link_dir).unwrap();
    let link = link_dir.join(format!("{ifname}.conf"));
    std::os::unix::fs::symlink(&open, &link).unwrap();
    let (ok, text) = braid(&ns, &["up", link.to_str().unwrap()]);
    assert!(!ok && text.contains("symbolic link"), "{text}");
    // In a directory others may write to (not sticky): refused.
    let shared = scratch.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let in_shared = shared.join(format!("{ifname}.conf"));
    std::fs::copy(&open, &in_shared).unwrap();
    std::fs::set_permissions(&in_shared, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, text) = braid(&ns, &["up", in_shared.to_str().unwrap()]);
    assert!(!ok && text.contains("its directory"), "{text}");
    assert!(!marker.exists());
    // A good file: the hook runs with PATH fixed and nothing of the caller's environment.
    let good = scratch.write(&format!("{ifname}.conf"), &conf(&format!("env > {}", env_dump.display())));
    let (ok, text) = braid_env(
        &ns,
        &["up", good.to_str().unwrap()],
        &[("PATH", "/tmp/evil:/usr/bin:/bin:/usr/sbin:/sbin"), ("BRAID_TEST_SECRET", "x")],
    );
    assert!(ok, "{text}");
    let seen = std::fs::read_to_string(&env_dump).unwrap();
    assert!(seen.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "{seen}");
    assert!(!seen.contains("evil") && !seen.contains("BRAID_TEST_SECRET"), "{seen}");
    let (ok, text) = braid(&ns, &["down", &ifname]);
    assert!(ok, "{text}");
}

/// Finding 9 (part): SIGHUP and SIGQUIT ended the daemon by their default action, leaving its
/// socket file behind. Now every terminating signal shuts it down cleanly.
#[test]
fn sighup_and_sigquit_shut_down_cleanly() {
    if !netns::ready("sighup_and_sigquit_shut_down_cleanly", &["ip"], &[Impl::Braid]) {
        return;
    }
    let scratch = netns::Scratch::new();
    for signal in ["-HUP", "-QUIT"] {
        let ns = Netns::new();
        let mut dev = netns::WgDevice::start(Impl::Braid, &ns, &scratch, 51820);
        let (ifname, pid) = (dev.ifname().to_string(), dev.daemon().pid());
        let path = netns::daemon::socket_path(&ifname);
        assert!(path.exists());
        Netns::signal(pid, signal);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while dev.daemon().is_running() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!dev.daemon().is_running(), "{signal}: the daemon is still running");
        assert!(!path.exists(), "{signal}: the socket file was left behind");
        assert!(!ns.has_link(&ifname), "{signal}: the interface was left behind");
    }
}

/// Reads `name:` from `/proc/PID/status` (the kernel's view of the process's privileges).
fn proc_status(pid: u32, name: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status:\n{text}"))
        .trim()
        .to_string()
}

/// Finding 4: the daemon kept full root for its whole life. Now, once its TUN, sockets and
/// control socket exist, it holds only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE (in every set,
/// the bounding set included), cannot gain privileges, and runs under a seccomp filter; `wg
/// set` still changes the listen port (to one below 1024 too), the fwmark and the peers, the
/// tunnel works on the new port, and the daemon still cleans up on exit.
#[test]
fn the_daemon_keeps_only_the_capabilities_it_needs() {
    if !netns::ready("the_daemon_keeps_only_the_capabilities_it_needs", &["ip", "ping"], &[Impl::Braid]) {
        return;
    }
    let mut pair = netns::Pair::new(Impl::Braid, Impl::Braid);
    pair.wait_tunnel();
    let pid = pair.a.wg.daemon().pid();
    // CAP_NET_BIND_SERVICE is bit 10, CAP_NET_ADMIN bit 12.
    let wanted = format!("{:016x}", (1u64 << 10) | (1u64 << 12));
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(proc_status(pid, set), wanted, "{set}");
    }
    for set in ["CapInh", "CapAmb"] {
        assert_eq!(proc_status(pid, set), "0000000000000000", "{set}");
    }
    assert_eq!(proc_status(pid, "NoNewPrivs"), "1");
    assert_eq!(proc_status(pid, "Seccomp"), "2", "a seccomp filter is installed");
    // Every thread carries the same confinement (the filter and capabilities are per thread).
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks").flatten() {
        let tid: u32 = task.file_name().to_string_lossy().parse().expect("tid");
        assert_eq!(proc_status(tid, "Seccomp"), "2", "thread {tid}");
        assert_eq!(proc_status(tid, "CapEff"), wanted, "thread {tid}");
    }

    // What the daemon must still do: a new listen port (a privileged one, then back), a mark,
    // a peer removed and added again; the tunnel answers on the new port.
    pair.a.wg.set(&["listen-port", "443", "fwmark", "0x77"]);
    assert_eq!(pair.a.wg.show("listen-port").trim(), "443");
    assert_eq!(pair.a.wg.show("fwmark").trim(), "0x77");
    let b_public = pair.b.wg.keys.public.clone();
    pair.a.wg.remove_peer(&b_public);
    assert!(pair.a.wg.peers().is_empty());
    let allowed = format!("{}/32,{}/128", pair.b.tunnel_v4, pair.b.tunnel_v6);
    pair.a.wg.add_peer(&b_public, &allowed, Some(&pair.b.endpoint_v4()));
    let a_public = pair.a.wg.keys.public.clone();
    let a_allowed = format!("{}/32,{}/128", pair.a.tunnel_v4, pair.a.tunnel_v6);
    pair.b.wg.add_peer(&a_public, &a_allowed, Some(&format!("{}:443", pair.a.underlay_v4)));
    let pinged = pair.a.ping(pair.b.tunnel_v4, netns::PingOpts { count: 3, ..Default::default() });
    assert!(pinged.received >= 2, "the tunnel works after the changes: {pinged:?}\n{}", pair.a.wg.log_tail());
    assert_eq!(pair.b.wg.endpoint(&a_public).as_deref(), Some(format!("{}:443", pair.a.underlay_v4).as_str()));
    pair.assert_alive();

    let path = netns::daemon::socket_path(pair.a.wg.ifname());
    let ifname = pair.a.wg.ifname().to_string();
    Netns::signal(pid, "-TERM");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while pair.a.wg.daemon().is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!pair.a.wg.daemon().is_running(), "the confined daemon did not stop on SIGTERM");
    assert!(!path.exists(), "the socket file was removed on exit");
    assert!(!pair.a.ns.has_link(&ifname), "the interface went away on exit");
}

/// Second review, finding 1: a UAPI client that writes `get=1` forever and never reads grew
/// the daemon without bound and kept its loop from serving the tunnel. Now each client is
/// served on its own thread a 64 KiB chunk of replies at a time (it blocks only itself), and
/// at most 32 are served at once: with 40 such clients for 6 s the daemon's memory stays
/// within a few MiB, pings through the tunnel keep answering, and a well-behaved `wg show`
/// afterwards still gets its answer.
#[test]
fn uapi_clients_that_never_read_neither_grow_the_daemon_nor_stall_the_tunnel() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};
    let test = "uapi_clients_that_never_read_neither_grow_the_daemon_nor_stall_the_tunnel";
    if !netns::ready(test, &["ip", "ping"], &[Impl::Braid]) {
        return;
    }
    let mut pair = netns::Pair::new(Impl::Braid, Impl::Braid);
    pair.wait_tunnel();
    let pid = pair.a.wg.daemon().pid();
    let rss_kib =
        |pid: u32| -> u64 { proc_status(pid, "VmRSS").trim_end_matches("kB").trim().parse().expect("VmRSS in kB") };
    let before = rss_kib(pid);
    let path = netns::daemon::socket_path(pair.a.wg.ifname());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let written = std::sync::atomic::AtomicU64::new(0);
    let pinged = std::thread::scope(|s| {
        for _ in 0..40 {
            s.spawn(|| {
                let Ok(mut client) = UnixStream::connect(&path) else { return };
                client.set_nonblocking(true).unwrap();
                let requests = b"get=1\n\n".repeat(1000);
                let deadline = Instant::now() + Duration::from_secs(6);
                while Instant::now() < deadline && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match client.write(&requests) {
                        Ok(n) => {
                            written.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => return, // turned away or dropped by the daemon
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        let pinged =
            pair.b.ping(pair.a.tunnel_v4, netns::PingOpts { count: 100, interval: 0.05, ..Default::default() });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        pinged
    });
    let after = rss_kib(pid);
    println!(
        "RSS {before} KiB -> {after} KiB; {} MiB of requests written; {}/100 pings",
        written.load(std::sync::atomic::Ordering::Relaxed) >> 20,
        pinged.received
    );
    assert!(pinged.received >= 95, "the tunnel stalled: {pinged:?}");
    assert!(after < before + 16 * 1024, "the daemon grew from {before} KiB to {after} KiB");
    assert!(written.load(std::sync::atomic::Ordering::Relaxed) > 1 << 20, "the clients did press");
    // Once they are gone, an ordinary client is answered at once.
    let started = Instant::now();
    assert_eq!(pair.a.wg.show("listen-port").trim(), pair.a.wg.port.to_string());
    assert!(started.elapsed() < Duration::from_secs(5));
    pair.assert_alive();
}

/// Hardening: garbage at braid's port from the peer's host, while the peer (Debian
/// wireguard-go) keeps pinging through the tunnel: random datagrams of every length and
/// message type, truncated and bit-flipped handshake messages (valid mac1 before the flip),
/// transport messages with random indices. braid stays up, counts what it dropped, the
/// tunnel keeps answering, and its memory stays flat.
#[test]
fn garbage_is_dropped_and_counted_while_the_tunnel_keeps_working() {
    use braid_proto::cookie::MacSealer;
    use braid_proto::crypto::PublicKey;
    use rand_core::{RngCore, SeedableRng};
    use std::time::{Duration, Instant};
    let test = "garbage_is_dropped_and_counted_while_the_tunnel_keeps_working";
    if !netns::ready(test, &["ip", "ping"], &[Impl::Braid, Impl::WireguardGo]) {
        return;
    }
    let mut pair = netns::Pair::new(Impl::Braid, Impl::WireguardGo);
    pair.wait_tunnel();
    let pid = pair.a.wg.daemon().pid();
    let rss = |pid: u32| -> u64 { proc_status(pid, "VmRSS").trim_end_matches("kB").trim().parse().expect("VmRSS") };
    let before_rss = rss(pid);
    let before = netns::uapi::braid_get(pair.a.wg.ifname());
    let key = PublicKey(netns::wg::key_from_base64(&pair.a.wg.keys.public).expect("braid's key"));
    let target: std::net::SocketAddr = pair.a.endpoint_v4().parse().unwrap();
    let ns_b = std::path::Path::new("/run/netns").join(pair.b.ns.name());
    const SENT: u32 = 40_000;
    let sender = std::thread::spawn(move || {
        braid_io::process::enter_network_namespace(&ns_b).expect("enter B");
        let socket = std::net::UdpSocket::bind("198.18.0.2:0").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut sealer = MacSealer::new(&key);
        let started = Instant::now();
        for i in 0..SENT {
            let mut d = vec![0u8; (rng.next_u32() % 1600) as usize];
            rng.fill_bytes(&mut d);
            match i % 4 {
                // Random bytes, any length, any type.
                0 => {}
                // A handshake message of the right length with a valid mac1, then bit flips
                // (or cut short).
                1 => {
                    let len = [148usize, 92, 64][(i as usize / 4) % 3];
                    d.resize(len, 0);
                    d[..4].copy_from_slice(&[[1, 2, 3][(i as usize / 4) % 3], 0, 0, 0]);
                    if len != 64 {
                        let _ = sealer.seal(braid_proto::Instant::ZERO, &mut d);
                    }
                    let flips = 1 + rng.next_u32() % 3;
                    for _ in 0..flips {
                        let at = (rng.next_u32() as usize) % len;
                        d[at] ^= 1 << (rng.next_u32() % 8);
                    }
                    if i % 8 == 1 {
                        d.truncate((rng.next_u32() as usize) % len);
                    }
                }
                // Transport with a random receiver index and counter.
                2 => {
                    d.resize(d.len().max(32), 0);
                    d[..4].copy_from_slice(&[4, 0, 0, 0]);
                }
                // A type byte with the reserved bytes set, or an unknown type.
                _ => {
                    d.resize(d.len().max(4), 0);
                    d[0] = [1, 2, 3, 4, 5, 0, 255][(i as usize / 4) % 7];
                    d[1] = 1;
                }
            }
            let _ = socket.send_to(&d, target);
            // 8 000 a second: a steady stream, not a flood.
            let due = Duration::from_micros(u64::from(i) * 125);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    });
    let pinged = pair.b.ping(pair.a.tunnel_v4, netns::PingOpts { count: 80, interval: 0.05, ..Default::default() });
    sender.join().expect("the sender");
    std::thread::sleep(Duration::from_millis(300));
    pair.assert_alive();
    let after = netns::uapi::braid_get(pair.a.wg.ifname());
    let dropped = netns::uapi::device_drops(&after) - netns::uapi::device_drops(&before);
    let queue_full = netns::uapi::device_counter(&after, "handshake_queue_full_drops")
        - netns::uapi::device_counter(&before, "handshake_queue_full_drops");
    let cookies = netns::uapi::device_counter(&after, "cookie_replies_sent")
        - netns::uapi::device_counter(&before, "cookie_replies_sent");
    let after_rss = rss(pid);
    println!("{SENT} sent: {dropped} dropped and counted, {queue_full} at a full queue, {cookies} cookies; RSS {before_rss} -> {after_rss} KiB; {}/80 pings", pinged.received);
    assert!(pinged.received >= 76, "the tunnel kept answering: {pinged:?}");
    // Every datagram is accounted for: dropped with a reason, or (a handshake message whose
    // mac1 survived) answered with a cookie; the rest the kernel may have dropped.
    assert!(
        dropped + queue_full + cookies >= u64::from(SENT) * 95 / 100,
        "{dropped} + {queue_full} + {cookies} of {SENT}"
    );
    assert!(after_rss < before_rss + 8 * 1024, "memory grew from {before_rss} to {after_rss} KiB");
    // The tunnel still works both ways after it.
    let back = pair.a.ping(pair.b.tunnel_v4, netns::PingOpts { count: 3, ..Default::default() });
    assert!(back.received >= 2, "{back:?}");
}
