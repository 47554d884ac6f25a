//! Parsers for config-file values, following `wg`'s `config.c` and `wg-quick`. Each returns
//! the problem as text for [`ConfigFileErrorKind::InvalidValue`](super::ConfigFileErrorKind); only
//! non-secret values are quoted in it.

use crate::keys::{key_from_base64, SecretKey};
use crate::uapi::parse_decimal;
use braid_proto::crypto::PublicKey;
use core::net::IpAddr;

/// The smallest and largest MTU the device accepts.
pub(crate) const MTU_RANGE: core::ops::RangeInclusive<u32> = 576..=65535;

/// A base64 key. The value is never quoted: it may be a private key.
pub(crate) fn secret_key(value: &str) -> Result<SecretKey, String> {
    key_from_base64(value).map(SecretKey::new).map_err(|_| "invalid base64 key".to_owned())
}

/// A base64 public key.
pub(crate) fn public_key(value: &str) -> Result<PublicKey, String> {
    key_from_base64(value).map(PublicKey).map_err(|_| "invalid base64 key".to_owned())
}

/// `ListenPort`: 0-65535.
pub(crate) fn port(value: &str) -> Result<u16, String> {
    parse_decimal(value, u64::from(u16::MAX))
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| format!("`{value}` is not a port number (0-65535)"))
}

/// `FwMark`: `off`, decimal, or `0x` hexadecimal, at most 0xffffffff (`off` is 0).
pub(crate) fn fwmark(value: &str) -> Result<u32, String> {
    let bad = || format!("`{value}` is neither off nor 0-0xffffffff");
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let parsed = match value.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()) => {
            let significant = hex.trim_start_matches('0');
            match significant.len() {
                0 => Some(0),
                1..=8 => u32::from_str_radix(significant, 16).ok(),
                _ => None,
            }
        }
        Some(_) => None,
        None => parse_decimal(value, u64::from(u32::MAX)).and_then(|v| u32::try_from(v).ok()),
    };
    parsed.ok_or_else(bad)
}

/// `PersistentKeepalive`: `off` or 0-65535 seconds (`off` is 0).
pub(crate) fn keepalive(value: &str) -> Result<u16, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    parse_decimal(value, u64::from(u16::MAX))
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| format!("`{value}` is neither off nor 0-65535"))
}

/// `MTU`: a number the device accepts.
pub(crate) fn mtu(value: &str) -> Result<u16, String> {
    parse_decimal(value, u64::from(*MTU_RANGE.end()))
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| MTU_RANGE.contains(v))
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| format!("`{value}` is not an MTU ({}-{})", MTU_RANGE.start(), MTU_RANGE.end()))
}

/// `SaveConfig`: `true` or `false`, any case (as wg-quick's `read_bool`).
pub(crate) fn boolean(value: &str) -> Result<bool, String> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("`{value}` is neither true nor false"))
    }
}

/// `addr` or `addr/len`; without a length the whole address (/32 or /128). Host bits are
/// kept: for `Address` they are the interface's own address.
pub(crate) fn prefix(item: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("`{item}` is not an IP address or prefix");
    let (addr, len) = match item.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (item, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(len) => parse_decimal(len, u64::from(max)).and_then(|v| u8::try_from(v).ok()).ok_or_else(bad)?,
    };
    Ok((addr, len))
}

/// A comma-separated list of prefixes (`AllowedIPs`); an empty value is an empty list, an
/// empty item in a non-empty list is an error (as `wg`).
pub(crate) fn prefix_list(value: &str) -> Result<Vec<(IpAddr, u8)>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value.split(',').map(|item| prefix(item.trim())).collect()
}

/// A DNS search domain: letters, digits, `-`, `_` and dots.
pub(crate) fn is_domain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fwmark_forms() {
        assert_eq!(fwmark("off"), Ok(0));
        assert_eq!(fwmark("OFF"), Ok(0));
        assert_eq!(fwmark("0"), Ok(0));
        assert_eq!(fwmark("51820"), Ok(51820));
        assert_eq!(fwmark("0xca6c"), Ok(0xca6c));
        assert_eq!(fwmark("0xffffffff"), Ok(u32::MAX));
        assert_eq!(fwmark("0x0000000000ff"), Ok(0xff));
        assert_eq!(fwmark("0x000"), Ok(0));
        for bad in ["", "0x", "0x1g", "0X10", "4294967296", "0x100000000", "-1", "on", "1.5"] {
            assert!(fwmark(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keepalive_and_port_ranges() {
        assert_eq!(keepalive("off"), Ok(0));
        assert_eq!(keepalive("25"), Ok(25));
        assert_eq!(keepalive("65535"), Ok(65535));
        assert!(keepalive("65536").is_err());
        assert!(keepalive("").is_err());
        assert_eq!(port("0"), Ok(0));
        assert!(port("65536").is_err());
        assert!(port("wireguard").is_err());
    }

    #[test]
    fn mtu_range() {
        assert_eq!(mtu("1420"), Ok(1420));
        assert_eq!(mtu("576"), Ok(576));
        assert_eq!(mtu("65535"), Ok(65535));
        for bad in ["575", "65536", "0", "", "1420b", "99999999999999999999"] {
            assert!(mtu(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prefixes_default_to_host_length() {
        assert_eq!(prefix("10.0.0.1"), Ok(("10.0.0.1".parse().unwrap(), 32)));
        assert_eq!(prefix("fd00::1"), Ok(("fd00::1".parse().unwrap(), 128)));
        assert_eq!(prefix("10.0.0.1/24"), Ok(("10.0.0.1".parse().unwrap(), 24)));
        for bad in ["10.0.0.1/33", "fd00::/129", "10.0.0.1/", "/24", "10.0.0.1/x", "host", ""] {
            assert!(prefix(bad).is_err(), "{bad:?}");
        }
        assert_eq!(prefix_list(""), Ok(vec![]));
        assert_eq!(prefix_list("10.0.0.0/8, fd00::/8").unwrap().len(), 2);
        assert!(prefix_list("10.0.0.0/8,,fd00::/8").is_err());
    }
}
