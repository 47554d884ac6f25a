//! Process plumbing for the daemon: detaching into the background once the interface and
//! its control socket exist, as `wg-quick` expects of a userspace implementation.

#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

/// Which side of a [`daemonize`] call we are on.
#[derive(Debug)]
pub enum Daemonized {
    /// The original process: it should exit with the child's readiness status.
    Parent(i32),
    /// The detached child: carry on, then call [`ReadyNotifier::ready`].
    Child(ReadyNotifier),
}

/// Lets the detached child tell the waiting parent that it is serving (or failed).
#[derive(Debug)]
pub struct ReadyNotifier {
    pipe: std::fs::File,
    /// Opened at fork time, so detaching stdio later opens nothing (the daemon may be
    /// confined by then, see `sandbox`).
    null: Option<std::fs::File>,
}

impl ReadyNotifier {
    /// Reports success (0) or an exit status to the parent, then detaches stdio.
    pub fn ready(mut self, status: u8) {
        let _ = self.pipe.write_all(&[status]);
        if let Some(null) = self.null.take() {
            redirect_stdio_to(&null);
        }
    }
}

fn redirect_stdio_to(null: &std::fs::File) {
    {
        use std::os::fd::AsRawFd;
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors, which this process owns.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Forks: the parent waits until the child reports readiness (or dies) and returns its
/// status; the child starts a new session. Only a single-threaded process may fork safely
/// (the child would inherit locks other threads hold): with more threads this is an error.
pub fn daemonize() -> io::Result<Daemonized> {
    let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0);
    if threads != 1 {
        return Err(io::Error::other(format!(
            "cannot detach a process with {threads} threads: daemonize before starting any"
        )));
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created by pipe2 and are owned by nobody else.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the process is single-threaded (checked above), so the child inherits a
    // consistent address space; it only continues ordinary Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        drop(write_end);
        let mut status = [1u8];
        let mut pipe = std::fs::File::from(read_end);
        let code = match pipe.read(&mut status) {
            Ok(1) => i32::from(status[0]),
            _ => 1, // the child died before reporting
        };
        return Ok(Daemonized::Parent(code));
    }
    drop(read_end);
    // SAFETY: setsid has no memory-safety preconditions.
    unsafe { libc::setsid() };
    let _ = std::env::set_current_dir("/");
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").ok();
    Ok(Daemonized::Child(ReadyNotifier { pipe: std::fs::File::from(write_end), null }))
}

/// Pins the calling thread to CPU `cpu` (modulo the CPUs this process may use), so a data-path
/// thread keeps its caches and the kernel's per-CPU queues it feeds. Returns the CPU chosen.
pub fn pin_current_thread(cpu: usize) -> io::Result<usize> {
    // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most size_of::<cpu_set_t>() bytes into `allowed`,
    // which is exactly that large; pid 0 is the calling thread.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY (for CPU_ISSET/CPU_SET below): they index within the cpu_set_t they are given,
    // bounded by CPU_SETSIZE, which the loop does not exceed.
    let usable: Vec<usize> =
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &allowed) }).collect();
    let Some(&chosen) = usable.get(cpu % usable.len().max(1)) else {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no usable CPU"));
    };
    // SAFETY: as above, an all-zero cpu_set_t is the empty set.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `chosen` < CPU_SETSIZE (it came from the loop above).
    unsafe { libc::CPU_SET(chosen, &mut one) };
    // SAFETY: sched_setaffinity reads size_of::<cpu_set_t>() bytes from `one`; pid 0 is us.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(chosen)
}

/// Raises this process's soft limit on open descriptors to its hard limit (a proxy holds two
/// per connection, and the usual soft limit of 1 024 would cap it near 500 connections);
/// returns the new soft limit.
pub fn raise_descriptor_limit() -> io::Result<libc::rlim_t> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct we own and pass by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit reads the struct we own; raising the soft limit up to the hard
        // one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// The effective user id of this process (whom its files and sockets belong to).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Who is at the other end of a connected Unix socket, as the kernel recorded it when the
/// connection was made (SO_PEERCRED): not something the peer can claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

/// The credentials of the process at the other end of `socket` (a connected Unix stream).
pub fn peer_credentials(socket: &impl std::os::fd::AsRawFd) -> io::Result<PeerCredentials> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes one `ucred` into the buffer we pass with its exact size; the
    // descriptor is borrowed for the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials { pid: cred.pid, uid: cred.uid, gid: cred.gid })
}

/// Moves the calling thread into the network namespace at `path` (`/run/netns/NAME`, as
/// `ip netns add` makes them), for a thread that should create its sockets there (a test's
/// host, a helper serving one namespace). Other threads stay where they are; sockets keep
/// the namespace they were created in. Needs CAP_SYS_ADMIN.
pub fn enter_network_namespace(path: &std::path::Path) -> io::Result<()> {
    let ns = std::fs::File::open(path)?;
    // SAFETY: setns takes a descriptor we hold open for the call and a constant flag; it
    // changes only the calling thread's namespace membership, no memory.
    if unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Security review finding 9: `daemonize` forked whatever the process was doing.
    #[test]
    fn a_process_with_threads_is_not_forked() {
        // The test harness runs tests on threads: this process has several.
        let err = daemonize().unwrap_err();
        assert!(err.to_string().contains("threads"), "{err}");
    }

    #[test]
    fn a_socket_pair_reports_our_own_credentials() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let cred = peer_credentials(&a).unwrap();
        assert_eq!(cred.uid, effective_uid());
        assert_eq!(cred.pid, std::process::id() as i32);
    }

    #[test]
    fn a_thread_can_be_pinned_and_reports_an_allowed_cpu() {
        std::thread::spawn(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            // Any index works: it wraps around the CPUs we may use.
            let chosen = pin_current_thread(cpus + 1).expect("pinning to an allowed CPU");
            // SAFETY: as in pin_current_thread.
            let mut now: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: as in pin_current_thread.
            assert_eq!(unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut now) }, 0);
            // SAFETY: `chosen` < CPU_SETSIZE.
            assert!(unsafe { libc::CPU_ISSET(chosen, &now) });
            // SAFETY: CPU_COUNT reads the set it is given.
            assert_eq!(unsafe { libc::CPU_COUNT(&now) }, 1);
        })
        .join()
        .unwrap();
    }
}
