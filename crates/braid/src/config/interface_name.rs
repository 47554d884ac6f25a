//! The interface name a config file implies: wg-quick brings `/etc/wireguard/wg0.conf` up
//! as `wg0`, and refuses file names that are not a valid Linux interface name + `.conf`.

use std::path::Path;

/// Longest Linux interface name (IFNAMSIZ - 1).
pub const MAX_INTERFACE_NAME_LEN: usize = 15;

/// True for a name Linux and wg-quick accept: 1-15 characters of `a-z A-Z 0-9 _ = + . -`,
/// not `.` or `..` (which the kernel refuses), and not starting with `-`, which would turn
/// the name into an option of every program it is passed to (wg-quick allows it; we don't).
/// No `/` either, so a name is never a path: it is safe to build socket paths from.
pub fn is_valid_interface_name(name: &str) -> bool {
    (1..=MAX_INTERFACE_NAME_LEN).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'=' | b'+' | b'.' | b'-'))
}

/// [`is_valid_interface_name`] as the error every entry point returns (the command line, the
/// socket path, `braid down`).
pub fn check_interface_name(name: &str) -> std::io::Result<()> {
    if is_valid_interface_name(name) {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("invalid interface name {name:?}: 1 to 15 of a-z A-Z 0-9 _ = + . - (not starting with -)"),
    ))
}

/// `wg0` for `.../wg0.conf`; `None` if the file name is not `<valid name>.conf`.
pub fn interface_name_from_path(path: &Path) -> Option<String> {
    let file_name = path.file_name()?.to_str()?;
    let name = file_name.strip_suffix(".conf")?;
    is_valid_interface_name(name).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_paths() {
        assert_eq!(interface_name_from_path(Path::new("/etc/wireguard/wg0.conf")).as_deref(), Some("wg0"));
        assert_eq!(interface_name_from_path(Path::new("wg0.conf")).as_deref(), Some("wg0"));
        assert_eq!(interface_name_from_path(Path::new("a_b=c+d.e-f.conf")).as_deref(), Some("a_b=c+d.e-f"));
        assert_eq!(interface_name_from_path(Path::new("x/123456789012345.conf")).as_deref(), Some("123456789012345"));
        for bad in [
            "-f.conf",
            "--help.conf",
            "1234567890123456.conf",
            ".conf",
            "wg0",
            "wg0.cfg",
            "wg 0.conf",
            "wg0.conf.bak",
            "..conf",
            "...conf",
            "wgé.conf",
            "/",
        ] {
            assert_eq!(interface_name_from_path(Path::new(bad)), None, "{bad:?}");
        }
    }
}
