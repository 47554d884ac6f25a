//! The UAPI control socket: `/var/run/wireguard/<interface>.sock`, where `wg` finds a
//! userspace implementation. Directory 0755, socket 0600, as wireguard-go creates them; the
//! socket is bound where nobody else can reach it and renamed into place, the directory must
//! not be writable by others, and a client must be root or the daemon's own user.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Where control sockets live (wireguard-go's and wg's default).
pub const SOCKET_DIR: &str = "/var/run/wireguard";

/// The socket path of `interface`; an invalid name (one with a `/`, or starting with `-`) is
/// an error, so no path outside the socket directory is ever built from user input.
pub fn socket_path(interface: &str) -> io::Result<PathBuf> {
    socket_path_in(Path::new(SOCKET_DIR), interface)
}

fn socket_path_in(dir: &Path, interface: &str) -> io::Result<PathBuf> {
    crate::config::check_interface_name(interface)?;
    Ok(dir.join(format!("{interface}.sock")))
}

/// Where an unprivileged braid (a rootless tunnel) puts its control socket:
/// `$XDG_RUNTIME_DIR/braid`, or `/tmp/braid-<uid>` without one. Root uses [`SOCKET_DIR`].
pub fn user_socket_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| Path::new(d).is_absolute()) {
        Some(dir) => Path::new(&dir).join("braid"),
        None => std::env::temp_dir().join(format!("braid-{}", braid_io::process::effective_uid())),
    }
}

/// The socket directories to look in, ours first: the user's (when not root), then the
/// system's.
pub fn socket_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if braid_io::process::effective_uid() != 0 {
        dirs.push(user_socket_dir());
    }
    dirs.push(PathBuf::from(SOCKET_DIR));
    dirs
}

/// The socket of `interface` where a client should connect: the first directory of
/// [`socket_dirs`] that has it (the system's when none has).
pub fn find_socket(interface: &str) -> io::Result<PathBuf> {
    for dir in socket_dirs() {
        let path = socket_path_in(&dir, interface)?;
        if path.exists() {
            return Ok(path);
        }
    }
    socket_path(interface)
}

/// A bound control socket that removes its file when dropped (if it is still ours).
#[derive(Debug)]
pub struct ControlSocket {
    pub listener: UnixListener,
    path: PathBuf,
    inode: Option<u64>,
}

impl ControlSocket {
    /// Binds the socket for `interface`. A live socket (another daemon answers on it) is an
    /// error; a stale file left by a crashed daemon is replaced.
    pub fn bind(interface: &str) -> io::Result<ControlSocket> {
        Self::bind_in(Path::new(SOCKET_DIR), 0o755, interface)
    }

    /// [`ControlSocket::bind`] in the socket directory an unprivileged braid uses
    /// ([`user_socket_dir`], created 0700), or the system's when running as root.
    pub fn bind_for_user(interface: &str) -> io::Result<ControlSocket> {
        if braid_io::process::effective_uid() == 0 {
            return Self::bind(interface);
        }
        Self::bind_in(&user_socket_dir(), 0o700, interface)
    }

    fn bind_in(dir: &Path, dir_mode: u32, interface: &str) -> io::Result<ControlSocket> {
        let path = socket_path_in(dir, interface)?;
        fs::DirBuilder::new().recursive(true).mode(dir_mode).create(dir)?;
        check_socket_dir(dir)?;
        if path.exists() {
            if UnixStream::connect(&path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use: is another daemon serving {interface}?", path.display()),
                ));
            }
            fs::remove_file(&path)?;
        }
        // Bound inside a directory only we can enter, made 0600 there, then renamed into
        // place: at no moment can another user connect, whatever the umask (wireguard-go sets
        // umask 077 around the bind; this needs no process-wide state).
        let private = dir.join(format!(".{interface}.{}.tmp", std::process::id()));
        let _ = fs::remove_dir_all(&private);
        fs::DirBuilder::new().mode(0o700).create(&private)?;
        let bound = (|| {
            let temp = private.join("sock");
            let listener = UnixListener::bind(&temp)?;
            fs::set_permissions(&temp, fs::Permissions::from_mode(0o600))?;
            fs::rename(&temp, &path)?;
            Ok::<_, io::Error>(listener)
        })();
        let _ = fs::remove_dir_all(&private);
        let listener = bound?;
        listener.set_nonblocking(true)?;
        let inode = inode_of(&path);
        Ok(ControlSocket { listener, path, inode })
    }

    /// Wraps an inherited listener (`WG_UAPI_FD`); its file is still removed on exit.
    pub fn from_listener(listener: UnixListener, interface: &str) -> io::Result<ControlSocket> {
        listener.set_nonblocking(true)?;
        let path = socket_path(interface)?;
        let inode = inode_of(&path);
        Ok(ControlSocket { listener, path, inode })
    }

    /// False once someone deleted (or replaced) our socket file: the signal to shut down,
    /// as wireguard-go does.
    pub fn still_present(&self) -> bool {
        match (inode_of(&self.path), self.inode) {
            (Some(now), Some(ours)) => now == ours,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The socket directory must be a real directory (not a symlink) owned by root or by us, and
/// not writable by group or others: anyone who could write to it could replace our socket
/// with one of their own, and `wg` or `braid up` would hand it a private key.
pub fn check_socket_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(dir)?;
    let ours = braid_io::process::effective_uid();
    let problem = if !meta.is_dir() {
        Some("is not a directory".to_owned())
    } else if meta.uid() != 0 && meta.uid() != ours {
        Some(format!("belongs to uid {}", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!("is writable by others (mode {:o})", meta.mode() & 0o7777))
    } else {
        None
    };
    match problem {
        Some(why) => {
            Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("refusing to use {}: it {why}", dir.display())))
        }
        None => Ok(()),
    }
}

/// Whether a client on `stream` may use the control socket: root, or the user the daemon runs
/// as (the socket's mode already says so; this holds even if a mode was ever wrong).
pub fn client_allowed(stream: &UnixStream) -> bool {
    match braid_io::process::peer_credentials(stream) {
        Ok(cred) => cred.uid == 0 || cred.uid == braid_io::process::effective_uid(),
        Err(_) => false,
    }
}

fn inode_of(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(path).ok().map(|m| m.ino())
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        if self.still_present() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_socket_directory_others_can_write_to_or_a_symlink_is_refused() {
        let base = std::env::temp_dir().join(format!("braid-sockdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        let good = base.join("good");
        fs::DirBuilder::new().mode(0o755).create(&good).unwrap();
        fs::set_permissions(&good, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_socket_dir(&good).is_ok());
        let open = base.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_socket_dir(&open).unwrap_err();
        assert!(err.to_string().contains("writable by others"), "{err}");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o775)).unwrap();
        assert!(check_socket_dir(&open).is_err(), "group-writable too");
        let link = base.join("link");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        assert!(check_socket_dir(&link).unwrap_err().to_string().contains("not a directory"));
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn a_client_of_our_own_user_is_allowed() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(client_allowed(&a));
    }
}
