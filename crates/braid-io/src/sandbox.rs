//! Confinement for a daemon that parses input from the internet: once its TUN device and
//! sockets exist it needs almost none of root's power, so it gives the rest up for good.
//!
//! * **Capabilities**: every capability but the few it asks to keep leaves the bounding,
//!   permitted, effective, inheritable and ambient sets (the daemon stays uid 0, but uid 0
//!   without CAP_DAC_OVERRIDE & co. is just another user to the kernel's checks).
//! * **No new privileges** (PR_SET_NO_NEW_PRIVS): nothing it could execute gains any.
//! * **A seccomp allow-list** of the system calls the data path, the control socket and the
//!   runtime make. A call outside it fails with EPERM rather than killing the process: a
//!   VPN daemon that dies on a rare code path takes the tunnel down, while an attacker gets
//!   no further with EPERM than with death (no exec, no ptrace, no mount, no module loading,
//!   no opening files for writing).
//!
//! Capabilities and the filter are per thread on Linux, so [`confine`] must run before the
//! daemon starts any thread: every thread created afterwards inherits both.

#![allow(unsafe_code)]

pub use caps::Capability;
use caps::{CapSet, CapsHashSet};
use std::collections::BTreeMap;
use std::io;

/// What [`confine`] did, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confinement {
    /// Capabilities kept (those asked for that the process had).
    pub kept: Vec<String>,
    /// Whether a seccomp filter was installed (only on x86_64 and aarch64).
    pub seccomp: bool,
}

/// How a call outside the allow-list is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlisted {
    /// It fails with EPERM (the default).
    Refuse,
    /// It is allowed and logged by the kernel (to find what a new code path needs).
    Log,
}

/// Drops every capability but `keep`, sets no-new-privs and installs the system-call filter.
/// Must be called while the process has only one thread.
pub fn confine(keep: &[Capability], unlisted: Unlisted) -> io::Result<Confinement> {
    let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0);
    if threads != 1 {
        return Err(io::Error::other(format!("cannot confine a process with {threads} threads: confine first")));
    }
    let kept = drop_capabilities(keep)?;
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let seccomp = install_filter(unlisted)?;
    Ok(Confinement { kept: kept.iter().map(|c| c.to_string()).collect(), seccomp })
}

fn caps_error(e: caps::errors::CapsError) -> io::Error {
    io::Error::other(format!("capabilities: {e}"))
}

fn drop_capabilities(keep: &[Capability]) -> io::Result<Vec<Capability>> {
    let permitted = caps::read(None, CapSet::Permitted).map_err(caps_error)?;
    let kept: CapsHashSet = keep.iter().copied().filter(|c| permitted.contains(c)).collect();
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
    for cap in caps::all() {
        if !kept.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            // Without CAP_SETPCAP (not root) the bounding set stays; the other sets still
            // lose the capability, which is what bounds this process.
            let _ = caps::drop(None, CapSet::Bounding, cap);
        }
    }
    caps::clear(None, CapSet::Ambient).map_err(caps_error)?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new()).map_err(caps_error)?;
    caps::set(None, CapSet::Effective, &kept).map_err(caps_error)?;
    caps::set(None, CapSet::Permitted, &kept).map_err(caps_error)?;
    let mut kept: Vec<Capability> = kept.into_iter().collect();
    kept.sort_by_key(|c| c.index());
    Ok(kept)
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn install_filter(unlisted: Unlisted) -> io::Result<bool> {
    use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = allowed_syscalls().iter().map(|&nr| (nr, Vec::new())).collect();
    // Files may be opened for reading only (/proc and /sys for the runtime's CPU count).
    let read_only = |flags_arg: u8| {
        SeccompCondition::new(flags_arg, SeccompCmpArgLen::Dword, SeccompCmpOp::MaskedEq(libc::O_ACCMODE as u64), 0)
            .and_then(|c| SeccompRule::new(vec![c]))
            .map_err(|e| io::Error::other(format!("seccomp rule: {e}")))
    };
    rules.insert(libc::SYS_openat, vec![read_only(2)?]);
    let mismatch = match unlisted {
        Unlisted::Refuse => SeccompAction::Errno(libc::EPERM as u32),
        Unlisted::Log => SeccompAction::Log,
    };
    let arch =
        if cfg!(target_arch = "x86_64") { seccompiler::TargetArch::x86_64 } else { seccompiler::TargetArch::aarch64 };
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, arch)
        .map_err(|e| io::Error::other(format!("seccomp filter: {e}")))?;
    let program: seccompiler::BpfProgram =
        filter.try_into().map_err(|e: seccompiler::BackendError| io::Error::other(format!("seccomp: {e}")))?;
    seccompiler::apply_filter(&program).map_err(|e| io::Error::other(format!("seccomp: {e}")))?;
    Ok(true)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn install_filter(_unlisted: Unlisted) -> io::Result<bool> {
    Ok(false)
}

/// The system calls a running braid daemon makes: its data path (sockets, TUN, epoll), the
/// control socket and its client threads, the Rust runtime (memory, threads, futexes, time,
/// signals), logging to syslog, and the clean-up on exit.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn allowed_syscalls() -> Vec<i64> {
    let mut calls = vec![
        // Data and control I/O.
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_close,
        libc::SYS_dup,
        libc::SYS_dup3,
        libc::SYS_ioctl,
        libc::SYS_fcntl,
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept4,
        libc::SYS_connect,
        libc::SYS_shutdown,
        libc::SYS_getsockname,
        libc::SYS_getpeername,
        libc::SYS_getsockopt,
        libc::SYS_setsockopt,
        libc::SYS_sendto,
        libc::SYS_recvfrom,
        libc::SYS_sendmsg,
        libc::SYS_recvmsg,
        libc::SYS_sendmmsg,
        libc::SYS_recvmmsg,
        libc::SYS_epoll_create1,
        libc::SYS_epoll_ctl,
        libc::SYS_epoll_pwait,
        libc::SYS_eventfd2,
        libc::SYS_pipe2,
        libc::SYS_ppoll,
        // Files: metadata (the socket file's presence), removing the socket at exit.
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_lseek,
        libc::SYS_unlinkat,
        // Memory.
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mprotect,
        libc::SYS_mremap,
        libc::SYS_brk,
        libc::SYS_madvise,
        // Threads, futexes, scheduling, time.
        libc::SYS_clone,
        libc::SYS_clone3,
        libc::SYS_set_robust_list,
        libc::SYS_rseq,
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_sched_setaffinity,
        libc::SYS_nanosleep,
        libc::SYS_clock_nanosleep,
        libc::SYS_clock_gettime,
        libc::SYS_gettimeofday,
        libc::SYS_prctl,
        libc::SYS_getrandom,
        libc::SYS_capget,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_uname,
        // Signals, and leaving.
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_tgkill,
        libc::SYS_restart_syscall,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        libc::SYS_epoll_wait,
        libc::SYS_poll,
        libc::SYS_dup2,
        libc::SYS_unlink,
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_arch_prctl,
    ]);
    calls.sort_unstable();
    calls.dedup();
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` in a forked child (confinement cannot be undone, and needs one thread), and
    /// returns the child's exit status.
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        // The test harness has several threads: fork (which copies only this one) is safe
        // here because the child only runs `f` and `_exit`s, touching no lock.
        // SAFETY: see above; the child never returns into the harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = f();
            // SAFETY: _exit ends the child at once, without running the harness's cleanup.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        libc::WEXITSTATUS(status)
    }

    #[test]
    fn a_confined_process_keeps_only_what_it_asked_and_cannot_exec() {
        if caps::read(None, CapSet::Permitted).map_or(true, |p| !p.contains(&Capability::CAP_NET_ADMIN)) {
            assert!(std::env::var("CI").is_err(), "CI runs as root");
            eprintln!("skipping: needs CAP_NET_ADMIN");
            return;
        }
        let code = in_child(|| {
            match confine(&[Capability::CAP_NET_ADMIN], Unlisted::Refuse) {
                Ok(c) if c.kept == ["CAP_NET_ADMIN"] => {}
                _ => return 10,
            }
            let effective = caps::read(None, CapSet::Effective).unwrap_or_default();
            if effective.len() != 1 || !effective.contains(&Capability::CAP_NET_ADMIN) {
                return 11;
            }
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            if !status.lines().any(|l| l == "NoNewPrivs:\t1") || !status.lines().any(|l| l == "Seccomp:\t2") {
                return 12;
            }
            // Not in the list: exec fails with EPERM.
            let path = c"/bin/true";
            let argv = [path.as_ptr(), std::ptr::null()];
            // SAFETY: a NUL-terminated path and argv; on success it would not return.
            unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
            if io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
                return 13;
            }
            // Opening a file for writing fails; for reading works; sockets work.
            if std::fs::OpenOptions::new().write(true).open("/dev/null").is_ok() {
                return 14;
            }
            if std::fs::read_to_string("/proc/self/status").is_err() {
                return 15;
            }
            if std::net::UdpSocket::bind("127.0.0.1:0").is_err() {
                return 16;
            }
            0
        });
        assert_eq!(code, 0, "see the return codes in the test");
    }
}
