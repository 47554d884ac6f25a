//! A Linux TUN device (layer 3, no packet-information header): IP packets in and out.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// Longest interface name Linux accepts (IFNAMSIZ − 1).
pub const MAX_NAME_LEN: usize = libc::IFNAMSIZ - 1;

/// An open TUN device. Dropping it closes the file descriptor, which removes a
/// non-persistent interface.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
    offloads: TunOffloads,
}

/// Which offloads a TUN device was opened with. With `vnet_hdr`, every read and write starts
/// with a 10-byte `virtio_net_hdr`, and with `tso` a read may return a TCP super-packet of up
/// to 64 KiB that the reader segments itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunOffloads {
    /// Reads and writes carry a virtio-net header.
    pub vnet_hdr: bool,
    /// The kernel may hand us packets with a partial checksum to complete.
    pub csum: bool,
    /// TCP segmentation offload (IPv4 and IPv6).
    pub tso: bool,
    /// UDP segmentation offload (Linux 6.2+).
    pub uso: bool,
}

/// Size of the virtio-net header on a TUN opened with offloads.
pub const VNET_HDR_LEN: usize = 10;

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.bytes().any(|b| b == 0 || b == b'/') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid interface name {name:?}")));
    }
    // SAFETY: ifreq is a plain C struct for which all-zero bytes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

impl Tun {
    /// Creates TUN interface `name` with IFF_TUN | IFF_NO_PI, non-blocking; an interface of
    /// that name that exists already is an error (see [`Tun::create_queues`]).
    pub fn create(name: &str) -> io::Result<Tun> {
        Self::open(name, false)
    }

    /// Like [`Tun::create`], with a virtio-net header and as many offloads as the kernel
    /// grants (checksum, TSO4/6, USO4/6 where available); see [`Tun::offloads`].
    pub fn create_with_offloads(name: &str) -> io::Result<Tun> {
        Self::open(name, true)
    }

    /// Opens `queues` descriptors of one multi-queue TUN interface (IFF_MULTI_QUEUE), each
    /// with the same offloads. The kernel spreads outgoing flows over the queues by flow hash,
    /// so one reader thread per queue sees whole flows, in order. The interface lives until
    /// the last queue closes. `queues == 1` opens an ordinary single-queue device, exactly
    /// as [`Tun::create`] or [`Tun::create_with_offloads`] would.
    ///
    /// The interface must not exist yet (IFF_TUN_EXCL): attaching to an existing persistent
    /// TUN would let its owner add a queue of their own and read the tunnel's plaintext.
    pub fn create_queues(name: &str, queues: usize, offload: bool) -> io::Result<Vec<Tun>> {
        if queues <= 1 {
            return Self::open_flags(name, offload, libc::IFF_TUN_EXCL).map(|t| vec![t]);
        }
        let first = Self::open_flags(name, offload, libc::IFF_MULTI_QUEUE | libc::IFF_TUN_EXCL)?;
        // Every queue attaches to the name the kernel gave the first.
        let actual = first.name.clone();
        let mut all = vec![first];
        for _ in 1..queues {
            all.push(Self::open_flags(&actual, offload, libc::IFF_MULTI_QUEUE)?);
        }
        Ok(all)
    }

    fn open(name: &str, offload: bool) -> io::Result<Tun> {
        Self::open_flags(name, offload, libc::IFF_TUN_EXCL)
    }

    fn open_flags(name: &str, offload: bool, extra_flags: libc::c_int) -> io::Result<Tun> {
        let mut req = ifreq_for(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open("/dev/net/tun")?;
        let mut flags = libc::IFF_TUN | libc::IFF_NO_PI | extra_flags;
        if offload {
            flags |= libc::IFF_VNET_HDR;
        }
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `req` is, and `file` is an
        // open descriptor of /dev/net/tun for the duration of the call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF as _, &mut req as *mut libc::ifreq) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if extra_flags & libc::IFF_TUN_EXCL != 0 && e.raw_os_error() == Some(libc::EBUSY) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("interface {name} exists already; braid creates its own (remove it with `ip link delete {name}`)"),
                ));
            }
            return Err(e);
        }
        // SAFETY: the kernel wrote a NUL-terminated name into ifr_name (IFNAMSIZ bytes).
        let name = unsafe { CStr::from_ptr(req.ifr_name.as_ptr()) }.to_string_lossy().into_owned();
        let mut offloads = TunOffloads::default();
        if offload {
            offloads.vnet_hdr = true;
            let fd = file.as_raw_fd();
            let tso = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
            // Try the most first; older kernels refuse USO, ancient ones TSO.
            for (features, csum, tso_on, uso) in [
                (tso | libc::TUN_F_USO4 | libc::TUN_F_USO6, true, true, true),
                (tso, true, true, false),
                (libc::TUN_F_CSUM, true, false, false),
            ] {
                // SAFETY: TUNSETOFFLOAD takes an unsigned long by value; the fd is our TUN.
                if unsafe { libc::ioctl(fd, libc::TUNSETOFFLOAD as _, features as libc::c_ulong) } == 0 {
                    offloads.csum = csum;
                    offloads.tso = tso_on;
                    offloads.uso = uso;
                    break;
                }
            }
        }
        Ok(Tun { file, name, offloads })
    }

    /// The offloads this device was opened with.
    pub fn offloads(&self) -> TunOffloads {
        self.offloads
    }

    /// Adopts an already-open TUN descriptor (`WG_TUN_FD`, as wireguard-go honours it; see
    /// [`adopt_inherited_fd`]). Its name and whether it carries a virtio-net header are read
    /// from the device itself (`TUNGETIFF`); the offloads a parent granted are not known, so
    /// none are assumed beyond the header.
    pub fn from_fd(fd: OwnedFd, name: &str) -> io::Result<Tun> {
        let file = File::from(fd);
        // SAFETY: as in `open_flags`, TUNGETIFF fills one `ifreq`; the fd is a TUN.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNGETIFF as _, &mut req as *mut libc::ifreq) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel wrote a NUL-terminated name into ifr_name (IFNAMSIZ bytes).
        let actual = unsafe { CStr::from_ptr(req.ifr_name.as_ptr()) }.to_string_lossy().into_owned();
        if actual != name {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the inherited TUN is {actual}, not {name}"),
            ));
        }
        // SAFETY: the kernel initialised the flags member of the union on success.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        let vnet_hdr = i32::from(flags) & libc::IFF_VNET_HDR != 0;
        set_nonblocking(file.as_raw_fd())?;
        Ok(Tun { file, name: actual, offloads: TunOffloads { vnet_hdr, ..TunOffloads::default() } })
    }

    /// The interface name the kernel gave the device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one IP packet; `WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Writes one IP packet.
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        (&self.file).write(packet)
    }

    /// Sets the interface MTU.
    pub fn set_mtu(&self, mtu: usize) -> io::Result<()> {
        set_interface_mtu(&self.name, mtu)
    }

    /// The interface's current MTU (it can change under us with `ip link set mtu`).
    pub fn mtu(&self) -> io::Result<usize> {
        interface_mtu(&self.name)
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// Sets an interface's MTU with SIOCSIFMTU (needs CAP_NET_ADMIN).
pub fn set_interface_mtu(name: &str, mtu: usize) -> io::Result<()> {
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_mtu =
        libc::c_int::try_from(mtu).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "MTU too large"))?;
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    // SAFETY: SIOCSIFMTU reads the `ifreq` we pass (name and mtu set); the socket is open.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU as _, &mut req as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads an interface's MTU with SIOCGIFMTU.
pub fn interface_mtu(name: &str) -> io::Result<usize> {
    let mut req = ifreq_for(name)?;
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    // SAFETY: SIOCGIFMTU fills the `ifru_mtu` member of the `ifreq` we pass; the socket is open.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU as _, &mut req as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel initialised the mtu member of the union on success.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    usize::try_from(mtu).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative MTU"))
}

pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What an inherited descriptor must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InheritedFd {
    /// An open TUN device (`WG_TUN_FD`).
    Tun,
    /// A listening Unix stream socket (`WG_UAPI_FD`).
    UnixListener,
}

/// Descriptors adopted so far: one number is never owned twice.
static ADOPTED: std::sync::Mutex<Vec<RawFd>> = std::sync::Mutex::new(Vec::new());

/// Takes ownership of an inherited descriptor number (from an environment variable), after
/// checking what it is: not a standard stream (0–2), not adopted before, open, and of the
/// `kind` asked for. A parent that passes a wrong number then gets an error, never a
/// descriptor owned twice or a socket read as a TUN.
pub fn adopt_inherited_fd(fd: RawFd, kind: InheritedFd) -> io::Result<OwnedFd> {
    let refuse = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("inherited descriptor {fd} {why}"));
    if fd <= 2 {
        return Err(refuse("is a standard stream"));
    }
    let mut adopted = ADOPTED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if adopted.contains(&fd) {
        return Err(refuse("was adopted already"));
    }
    // SAFETY: F_GETFD only queries the descriptor; it fails with EBADF if it is not open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    match kind {
        InheritedFd::Tun => {
            // SAFETY: ifreq is plain data, all-zero valid; TUNGETIFF fills it for a TUN
            // descriptor and fails (EBADFD/EINVAL/ENOTTY) for anything else.
            let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
            if unsafe { libc::ioctl(fd, libc::TUNGETIFF as _, &mut req as *mut libc::ifreq) } < 0 {
                return Err(refuse("is not a TUN device"));
            }
        }
        InheritedFd::UnixListener => {
            let int_opt = |opt: libc::c_int| -> io::Result<libc::c_int> {
                let mut value: libc::c_int = 0;
                let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: the option is an int, written into `value` with its exact size.
                let rc = unsafe {
                    libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&mut value as *mut libc::c_int).cast(), &mut len)
                };
                if rc < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(value)
            };
            let is_listener = int_opt(libc::SO_DOMAIN).is_ok_and(|d| d == libc::AF_UNIX)
                && int_opt(libc::SO_TYPE).is_ok_and(|t| t == libc::SOCK_STREAM)
                && int_opt(libc::SO_ACCEPTCONN).is_ok_and(|a| a == 1);
            if !is_listener {
                return Err(refuse("is not a listening Unix socket"));
            }
        }
    }
    adopted.push(fd);
    // SAFETY: the descriptor is open and of the kind asked for (checked above), was handed to
    // this process for exactly this use, and no other OwnedFd in it owns this number (the
    // standard streams are refused, and every adoption is recorded).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_before_any_syscall() {
        for bad in ["", "a/b", "sixteen-chars-xx", "nul\0"] {
            assert!(ifreq_for(bad).is_err(), "{bad:?}");
        }
        assert!(ifreq_for("wg0").is_ok());
    }

    #[test]
    fn offloads_are_negotiated_when_we_may_create_a_tun() {
        // Needs CAP_NET_ADMIN; a unique name so parallel runs don't collide.
        let name = format!("btoff{}", std::process::id() % 100_000);
        match Tun::create_with_offloads(&name) {
            Ok(tun) => {
                let o = tun.offloads();
                assert!(o.vnet_hdr && o.csum && o.tso, "{o:?}");
                assert_eq!(tun.name(), name);
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EPERM) => {
                assert!(std::env::var("CI").is_err(), "CI runs as root");
                eprintln!("skipping: {e}");
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_multi_queue_interface_has_one_descriptor_per_queue() {
        let name = format!("btmq{}", std::process::id() % 100_000);
        match Tun::create_queues(&name, 3, true) {
            Ok(queues) => {
                assert_eq!(queues.len(), 3);
                let fds: std::collections::HashSet<RawFd> = queues.iter().map(|q| q.as_raw_fd()).collect();
                assert_eq!(fds.len(), 3);
                for q in &queues {
                    assert_eq!(q.name(), name);
                    assert!(q.offloads().tso, "{:?}", q.offloads());
                    // Nothing routed to it yet: every queue is readable and empty.
                    assert_eq!(q.recv(&mut [0u8; 64]).unwrap_err().kind(), io::ErrorKind::WouldBlock);
                }
                assert!(interface_mtu(&name).is_ok());
                drop(queues);
                assert!(interface_mtu(&name).is_err(), "closing every queue removes the interface");
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EPERM) => {
                assert!(std::env::var("CI").is_err(), "CI runs as root");
                eprintln!("skipping: {e}");
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// Security review finding 7 (docs/SECURITY.md): an existing TUN was attached to, so its
    /// owner could add a queue and read the plaintext. Attached on 1a8c593.
    #[test]
    fn an_existing_tun_is_refused_not_taken_over() {
        let name = format!("btex{}", std::process::id() % 100_000);
        let first = match Tun::create_queues(&name, 1, true) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EPERM) => {
                assert!(std::env::var("CI").is_err(), "CI runs as root");
                eprintln!("skipping: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        for queues in [1, 2] {
            let err = Tun::create_queues(&name, queues, true).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
            assert!(err.to_string().contains(&name), "{err}");
        }
        drop(first);
        // Gone with its last queue: the name is free again.
        assert!(Tun::create_queues(&name, 2, true).is_ok());
    }

    /// Security review finding 9: `adopt_inherited_fd` took any number on the caller's word
    /// (a standard stream, a socket as a TUN, the same number twice).
    #[test]
    fn an_inherited_descriptor_must_be_what_it_claims() {
        use std::os::fd::IntoRawFd;
        for fd in 0..=2 {
            assert!(adopt_inherited_fd(fd, InheritedFd::Tun).is_err(), "{fd}");
        }
        assert!(adopt_inherited_fd(9999, InheritedFd::Tun).is_err(), "not open");
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let stream_fd = a.into_raw_fd();
        let err = adopt_inherited_fd(stream_fd, InheritedFd::Tun).unwrap_err();
        assert!(err.to_string().contains("not a TUN"), "{err}");
        let err = adopt_inherited_fd(stream_fd, InheritedFd::UnixListener).unwrap_err();
        assert!(err.to_string().contains("not a listening"), "{err}");
        // SAFETY (test): the number came from into_raw_fd above and nothing else owns it.
        drop(unsafe { OwnedFd::from_raw_fd(stream_fd) });
        let path = std::env::temp_dir().join(format!("braid-adopt-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let fd = listener.into_raw_fd();
        let owned = adopt_inherited_fd(fd, InheritedFd::UnixListener).unwrap();
        assert!(adopt_inherited_fd(fd, InheritedFd::UnixListener).unwrap_err().to_string().contains("adopted already"));
        drop(owned);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn loopback_mtu_is_readable() {
        let mtu = interface_mtu("lo").expect("lo exists");
        assert!(mtu >= 1280, "{mtu}");
    }
}
