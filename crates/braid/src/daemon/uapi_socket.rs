//! The UAPI control socket: `/var/run/wireguard/<interface>.sock`, where `wg` finds a
//! userspace implementation. Directory 0755, socket 0600, as wireguard-go creates them.

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
    crate::config::check_interface_name(interface)?;
    Ok(Path::new(SOCKET_DIR).join(format!("{interface}.sock")))
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
        fs::DirBuilder::new().recursive(true).mode(0o755).create(SOCKET_DIR)?;
        let path = socket_path(interface)?;
        if path.exists() {
            if UnixStream::connect(&path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use: is another daemon serving {interface}?", path.display()),
                ));
            }
            fs::remove_file(&path)?;
        }
        let listener = UnixListener::bind(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
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
