//! Parsers for the values of UAPI lines, each as strict as wireguard-go's (Go's `strconv`
//! and `net/netip`), so a request one accepts the other accepts too.

use core::net::{IpAddr, SocketAddr};

/// An unsigned decimal number: ASCII digits only (leading zeros allowed, no sign, no
/// spaces), at most `max`. Go's `strconv.ParseUint(value, 10, bits)`.
pub(crate) fn parse_decimal(text: &str, max: u64) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut value = 0u64;
    for c in text.bytes() {
        value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    (value <= max).then_some(value)
}

/// A `u16` in decimal (ports, keepalive intervals).
pub(crate) fn parse_u16(text: &str) -> Option<u16> {
    parse_decimal(text, u64::from(u16::MAX)).and_then(|v| u16::try_from(v).ok())
}

/// A `u32` in decimal (fwmark).
pub(crate) fn parse_u32(text: &str) -> Option<u32> {
    parse_decimal(text, u64::from(u32::MAX)).and_then(|v| u32::try_from(v).ok())
}

/// A numeric endpoint: `1.2.3.4:51820` or `[fd00::1]:51820` (a numeric scope like
/// `[fe80::1%2]:51820` is accepted). Host names are refused: `wg` resolves them before it
/// talks to the socket, and the daemon must never block on DNS.
pub(crate) fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (host, port) = text.rsplit_once(':')?;
    // `SocketAddr`'s own parser takes the port with a leading `+`; Go does not.
    parse_u16(port)?;
    if host.starts_with('[') != host.ends_with(']') || (!host.starts_with('[') && host.contains(':')) {
        return None;
    }
    text.parse().ok()
}

/// An address prefix `addr/len`, as Go's `netip.ParsePrefix`: the length is decimal without
/// sign or leading zeros and at most the address width; an IPv6 zone is refused. Host bits
/// may be set (the allowed-IPs table clears them).
pub(crate) fn parse_prefix(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = text.rsplit_once('/')?;
    if len.len() > 1 && len.starts_with('0') {
        return None;
    }
    let len = u8::try_from(parse_decimal(len, 128)?).ok()?;
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_strict() {
        assert_eq!(parse_u16("51820"), Some(51820));
        assert_eq!(parse_u16("0"), Some(0));
        assert_eq!(parse_u16("00080"), Some(80));
        assert_eq!(parse_u16("65535"), Some(65535));
        for bad in ["65536", "", "+1", "-1", " 1", "1 ", "0x10", "1e3", "99999999999999999999999"] {
            assert_eq!(parse_u16(bad), None, "{bad:?}");
        }
        assert_eq!(parse_u32("4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32("4294967296"), None);
    }

    #[test]
    fn endpoints_are_numeric() {
        assert_eq!(parse_endpoint("1.2.3.4:51820"), Some("1.2.3.4:51820".parse().unwrap()));
        assert_eq!(parse_endpoint("[fd00::1]:51820"), Some("[fd00::1]:51820".parse().unwrap()));
        assert_eq!(parse_endpoint("[fe80::1%2]:5"), Some("[fe80::1%2]:5".parse().unwrap()));
        assert_eq!(parse_endpoint("[::ffff:1.2.3.4]:5"), Some("[::ffff:1.2.3.4]:5".parse().unwrap()));
        for bad in [
            "example.com:51820",
            "1.2.3.4",
            "1.2.3.4:",
            "1.2.3.4:+5",
            "1.2.3.4:65536",
            "fd00::1:51820",
            "[fd00::1]",
            "[fd00::1:51820",
            "fd00::1]:51820",
            "[1.2.3.4]:5",
            "01.2.3.4:5",
            "",
            ":",
        ] {
            assert_eq!(parse_endpoint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefixes_follow_netip() {
        assert_eq!(parse_prefix("10.0.0.0/8"), Some(("10.0.0.0".parse().unwrap(), 8)));
        assert_eq!(parse_prefix("10.1.2.3/8"), Some(("10.1.2.3".parse().unwrap(), 8)));
        assert_eq!(parse_prefix("0.0.0.0/0"), Some(("0.0.0.0".parse().unwrap(), 0)));
        assert_eq!(parse_prefix("fd00::/128"), Some(("fd00::".parse().unwrap(), 128)));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "10.0.0.0/-8",
            "10.0.0.0/",
            "/8",
            "fe80::1%2/64",
            "10.0.0.0/8/8",
            "host/8",
        ] {
            assert_eq!(parse_prefix(bad), None, "{bad:?}");
        }
    }
}
