//! `WG_TUN_FD` and `WG_UAPI_FD`: a parent that opened the TUN device and the control socket
//! itself hands them to the daemon, as wireguard-go allows. A small Python parent (python3 is
//! on every machine this project uses) opens both, marks them inheritable and execs braid.

mod netns;

use netns::{Impl, Netns};
use std::process::Command;
use std::time::{Duration, Instant};

const PARENT: &str = r#"
import fcntl, os, socket, struct, sys
name, exe = sys.argv[1], sys.argv[2]
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454ca, struct.pack("16sH", name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN|IFF_NO_PI
os.makedirs("/var/run/wireguard", exist_ok=True)
path = "/var/run/wireguard/%s.sock" % name
if os.path.exists(path):
    os.unlink(path)
uapi = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
uapi.bind(path)
uapi.listen(16)
os.set_inheritable(tun, True)
os.set_inheritable(uapi.fileno(), True)
env = dict(os.environ, WG_TUN_FD=str(tun), WG_UAPI_FD=str(uapi.fileno()))
os.execve(exe, [exe, "-f", name], env)
"#;

#[test]
fn the_daemon_serves_descriptors_its_parent_opened() {
    if !netns::ready("the_daemon_serves_descriptors_its_parent_opened", &["ip", "python3"], &[Impl::Braid]) {
        return;
    }
    let ns = Netns::new();
    let name = netns::names::ifname();
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "python3", "-c", PARENT, &name, env!("CARGO_BIN_EXE_braid")])
        .spawn()
        .expect("spawn the parent");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut shown = String::new();
    while Instant::now() < deadline {
        let out = Command::new("ip").args(["netns", "exec", ns.name(), "wg", "show", &name]).output().unwrap();
        if out.status.success() {
            shown = String::from_utf8_lossy(&out.stdout).into_owned();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let set = Command::new("ip")
        .args(["netns", "exec", ns.name(), "wg", "set", &name, "listen-port", "51999"])
        .status()
        .unwrap();
    let port =
        Command::new("ip").args(["netns", "exec", ns.name(), "wg", "show", &name, "listen-port"]).output().unwrap();
    let has_link = ns.has_link(&name);
    // Stop the daemon by PID (SIGTERM: it removes the socket it was given).
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    assert!(shown.contains(&format!("interface: {name}")), "wg show through the inherited socket: {shown:?}");
    assert!(set.success());
    assert_eq!(String::from_utf8_lossy(&port.stdout).trim(), "51999");
    assert!(has_link, "the inherited TUN is the interface");
    assert!(!std::path::Path::new(&format!("/var/run/wireguard/{name}.sock")).exists(), "socket removed on exit");
}
