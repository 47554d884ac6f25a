//! The error numbers a UAPI reply carries (`errno=-22`): Linux values, negated on the wire,
//! chosen as wireguard-go chooses them so `wg` prints the same message for the same mistake.

use core::fmt;

/// A positive Linux errno. The reply line is `errno=-N`; `errno=0` means success and is not
/// an `Errno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// I/O error (`EIO`): an OS failure with no better number.
    pub const EIO: Errno = Errno(5);
    /// Invalid argument (`EINVAL`): an unknown key or a value that does not parse.
    pub const EINVAL: Errno = Errno(22);
    /// Protocol error (`EPROTO`): a line without `=`, an unknown operation, a request cut off.
    pub const EPROTO: Errno = Errno(71);
    /// Message too long (`EMSGSIZE`): a line or a request over the session's limits.
    pub const EMSGSIZE: Errno = Errno(90);
    /// Address in use (`EADDRINUSE`): the new listen port could not be bound, as wireguard-go
    /// reports every rebinding failure.
    pub const EADDRINUSE: Errno = Errno(98);

    /// The value written after `errno=`: always negative (a zero or negative `Errno` given by
    /// a host is normalised so a failure never reads as success).
    pub fn wire_value(self) -> i64 {
        match i64::from(self.0) {
            0 => -i64::from(Errno::EIO.0),
            n => -n.abs(),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {}", self.0)
    }
}

impl From<&std::io::Error> for Errno {
    /// The OS error number of a failed bind or setsockopt, `EIO` if it has none.
    fn from(err: &std::io::Error) -> Self {
        Errno(err.raw_os_error().filter(|&n| n != 0).unwrap_or(Errno::EIO.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_are_negative() {
        assert_eq!(Errno::EINVAL.wire_value(), -22);
        assert_eq!(Errno(-98).wire_value(), -98);
        assert_eq!(Errno(0).wire_value(), -5);
        assert_eq!(Errno(i32::MIN).wire_value(), i64::from(i32::MIN));
    }

    #[test]
    fn io_errors_keep_their_number() {
        assert_eq!(Errno::from(&std::io::Error::from_raw_os_error(98)), Errno::EADDRINUSE);
        assert_eq!(Errno::from(&std::io::Error::other("x")), Errno::EIO);
    }
}
