//! Unique names for everything a test creates outside its own process, and a scratch directory.
//!
//! Namespaces, interfaces and the UAPI sockets under `/var/run/wireguard/` are global (the socket
//! directory is shared by every namespace), so every name carries this process's PID and a
//! per-process counter: tests in one binary can run in parallel, and so can binaries.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn next() -> u32 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A namespace name unique to this process and call: `braidt-<pid>-<n>`.
pub fn netns_name() -> String {
    format!("braidt-{}-{}", std::process::id(), next())
}

/// An interface name unique to this process and call, at most 15 bytes: `bt<pid>n<n>`.
pub fn ifname() -> String {
    let name = format!("bt{}n{}", std::process::id(), next());
    assert!(name.len() <= 15, "interface name {name} too long");
    name
}

/// A per-test directory for key files, configs and daemon logs; removed on drop.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates `$TMPDIR/braid-netns-<pid>-<n>`, replacing a stale one with the same name.
    pub fn new() -> Scratch {
        let path = std::env::temp_dir().join(format!("braid-netns-{}-{}", std::process::id(), next()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch dir");
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to a file in the directory, readable only by the owner (keys go here).
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let file_path = self.path.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&file_path)
            .expect("create scratch file");
        file.write_all(contents.as_bytes()).expect("write scratch file");
        file_path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
