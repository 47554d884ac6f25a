//! `wg-quick up` / `wg-quick down` with `WG_QUICK_USERSPACE_IMPLEMENTATION` pointing at the
//! implementation under test (which must daemonise once the interface and socket exist).

#[macro_use]
mod netns;

use std::time::{Duration, Instant};

use netns::daemon::socket_path;
use netns::ping::wait_reachable;
use netns::topology::UNDERLAY_DEV;
use netns::{names, veth, Impl, Keys, Netns, Scratch, WgDevice};

/// Removes a UAPI socket file a daemon started by wg-quick might leave behind.
struct SocketFileGuard(String);

impl Drop for SocketFileGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(socket_path(&self.0));
    }
}

/// Host A is brought up by `wg-quick` running implementation `a`; host B is a plain daemon `b`.
/// The tunnel works both ways, then `wg-quick down` removes the interface, the socket and the
/// daemon process.
fn wg_quick_up_down(a: Impl, b: Impl) {
    let scratch = Scratch::new();
    let ns_a = Netns::new();
    let ns_b = Netns::new();
    veth(&ns_a, UNDERLAY_DEV, &ns_b, UNDERLAY_DEV, 1500);
    ns_a.addr_add(UNDERLAY_DEV, "198.18.0.1/24");
    ns_b.addr_add(UNDERLAY_DEV, "198.18.0.2/24");
    let wg_b = WgDevice::start(b, &ns_b, &scratch, 51002);
    let keys_a = Keys::generate();
    wg_b.add_peer(&keys_a.public, "198.19.0.1/32,fd00:19::1/128", None);
    wg_b.addr_add("198.19.0.2/24");
    wg_b.addr_add("fd00:19::2/64");
    wg_b.up();

    let ifname = names::ifname();
    let _socket_guard = SocketFileGuard(ifname.clone());
    let conf = scratch.write(
        &format!("{ifname}.conf"),
        &format!(
            "[Interface]\nPrivateKey = {}\nListenPort = 51001\nAddress = 198.19.0.1/24, fd00:19::1/64\nMTU = 1420\n\n\
             [Peer]\nPublicKey = {}\nEndpoint = 198.18.0.2:51002\nAllowedIPs = 198.19.0.2/32, fd00:19::2/128\n",
            keys_a.private, wg_b.keys.public
        ),
    );
    let conf = conf.to_string_lossy().to_string();
    let program = a.program();
    let env = [("WG_QUICK_USERSPACE_IMPLEMENTATION", program.as_str()), ("WG_HIDE_KEYS", "never")];
    let up = ns_a.exec_env(&["wg-quick", "up", &conf], &env, Duration::from_secs(30));
    assert!(up.success(), "wg-quick up: {}", up.describe());
    assert!(ns_a.has_link(&ifname), "interface {ifname} exists after wg-quick up");
    assert!(socket_path(&ifname).exists(), "UAPI socket exists after wg-quick up");
    assert!(!ns_a.pids().is_empty(), "a daemon runs in A after wg-quick up");

    let show = ns_a.exec_ok(&["wg", "show", &ifname, "public-key"]);
    assert_eq!(show.trim(), keys_a.public);
    assert!(wait_reachable(&ns_a, "198.19.0.2", Duration::from_secs(10)), "A->B after wg-quick up");
    assert!(wait_reachable(&ns_b, "fd00:19::1", Duration::from_secs(10)), "B->A after wg-quick up");
    assert_eq!(wg_b.endpoint(&keys_a.public).as_deref(), Some("198.18.0.1:51001"));

    let down = ns_a.exec_env(&["wg-quick", "down", &conf], &env, Duration::from_secs(30));
    assert!(down.success(), "wg-quick down: {}", down.describe());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && (ns_a.has_link(&ifname) || !ns_a.pids().is_empty() || socket_path(&ifname).exists())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!ns_a.has_link(&ifname), "interface gone after wg-quick down");
    assert!(ns_a.pids().is_empty(), "daemon exited after wg-quick down: pids {:?}", ns_a.pids());
    assert!(!socket_path(&ifname).exists(), "socket removed after wg-quick down");
}
pairings!(wg_quick_up_down, "wg-quick", "bash");
