//! Config files: every key, every error with its line, files as wg-quick writes them, and
//! the `wg setconf`-equivalent UAPI request.

use super::*;
use crate::keys::{key_to_base64, key_to_hex};
use core::net::SocketAddr;
use std::io;

fn b64(byte: u8) -> String {
    key_to_base64(&[byte; 32])
}

fn parse(text: &str) -> Result<TunnelConfig, ConfigFileError> {
    parse_config("wg0.conf", text)
}

fn minimal() -> String {
    format!("[Interface]\nPrivateKey = {}\n", b64(0x48))
}

/// The error of `text`, as (line, message).
fn error_of(text: &str) -> (Option<usize>, String) {
    let err = parse(text).expect_err("should fail");
    (err.line, err.to_string())
}

fn ip(text: &str) -> core::net::IpAddr {
    text.parse().unwrap()
}

#[test]
fn a_file_as_wg_quick_users_write_it() {
    let text = format!(
        "# wg0: the office tunnel\n\
         [Interface]\n\
         Address = 10.200.100.8/24, fd42:42:42::8/64\n\
         PrivateKey = {private}   # generated with wg genkey\n\
         ListenPort = 51820\n\
         DNS = 10.200.100.1, 2606:4700:4700::1111, corp.example.com\n\
         MTU = 1380\n\
         Table = 1234\n\
         FwMark = 0xca6c\n\
         PreUp = echo pre-up\n\
         PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE\n\
         PostUp = ip rule add not fwmark 1234 table 1234\n\
         PreDown = echo pre-down\n\
         PostDown = iptables -D FORWARD -i %i -j ACCEPT\n\
         SaveConfig = false\n\
         \n\
         [Peer]\n\
         # the gateway\n\
         PublicKey = {gateway}\n\
         PresharedKey = {psk}\n\
         AllowedIPs = 0.0.0.0/0, ::/0\n\
         Endpoint = vpn.example.com:51820\n\
         PersistentKeepalive = 25\n\
         \n\
         [Peer]\n\
         PublicKey = {laptop}\n\
         AllowedIPs = 10.200.100.9/32\n\
         AllowedIPs = fd42:42:42::9/128\n\
         Endpoint = [2001:db8::9]:51821\n",
        private = b64(0x48),
        gateway = b64(0x11),
        psk = b64(0x33),
        laptop = b64(0x22),
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.private_key.expose(), &[0x48; 32]);
    assert_eq!(config.listen_port, Some(51820));
    assert_eq!(config.fwmark, Some(0xca6c));
    assert_eq!(config.addresses, vec![(ip("10.200.100.8"), 24), (ip("fd42:42:42::8"), 64)]);
    assert_eq!(config.mtu, Some(1380));
    assert_eq!(
        config.dns,
        vec![
            DnsEntry::Server(ip("10.200.100.1")),
            DnsEntry::Server(ip("2606:4700:4700::1111")),
            DnsEntry::SearchDomain("corp.example.com".into())
        ]
    );
    assert_eq!(config.table.as_deref(), Some("1234"));
    assert_eq!(config.pre_up, vec!["echo pre-up"]);
    assert_eq!(
        config.post_up,
        vec![
            "iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE",
            "ip rule add not fwmark 1234 table 1234"
        ]
    );
    assert_eq!(config.pre_down, vec!["echo pre-down"]);
    assert_eq!(config.post_down, vec!["iptables -D FORWARD -i %i -j ACCEPT"]);
    assert!(!config.save_config);
    assert_eq!(config.peers.len(), 2);
    let gateway = &config.peers[0];
    assert_eq!(gateway.public_key.0, [0x11; 32]);
    assert_eq!(gateway.preshared_key.as_ref().map(|k| *k.expose()), Some([0x33; 32]));
    assert_eq!(gateway.allowed_ips, vec![(ip("0.0.0.0"), 0), (ip("::"), 0)]);
    assert_eq!(gateway.endpoint, Some(EndpointSpec { host: "vpn.example.com".into(), port: 51820 }));
    assert_eq!(gateway.persistent_keepalive, Some(25));
    assert_eq!(gateway.line, 17);
    let laptop = &config.peers[1];
    assert_eq!(laptop.allowed_ips, vec![(ip("10.200.100.9"), 32), (ip("fd42:42:42::9"), 128)]);
    assert_eq!(laptop.endpoint, Some(EndpointSpec { host: "2001:db8::9".into(), port: 51821 }));
    assert_eq!(laptop.preshared_key, None);
    assert_eq!(laptop.persistent_keepalive, None);
}

#[test]
fn wg_showconf_output_parses() {
    // `wg showconf` style: no spaces around commas' neighbours, CRLF endings from an editor.
    let text = format!(
        "[Interface]\r\nListenPort = 51820\r\nFwMark = 0x1\r\nPrivateKey = {}\r\n\r\n[Peer]\r\nPublicKey = {}\r\n\
         AllowedIPs = 10.0.0.2/32, fd00::2/128\r\nEndpoint = 192.0.2.2:51820\r\n",
        b64(0x48),
        b64(0x11)
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.listen_port, Some(51820));
    assert_eq!(config.fwmark, Some(1));
    assert_eq!(config.peers[0].endpoint.as_ref().unwrap().literal(), Some("192.0.2.2:51820".parse().unwrap()));
}

#[test]
fn keys_and_sections_are_case_insensitive_and_spaces_are_ignored() {
    let text = format!(
        "[ interface ]\nprivatekey={}\nLISTENPORT = 7\n  Private Key = {}\n[PEER]\npublickey ={}\nallowed ips = 10.0.0.0/8 , 10.1.0.0/16\n",
        b64(0x11),
        b64(0x48),
        b64(0x22)
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.private_key.expose(), &[0x48; 32], "the last PrivateKey wins");
    assert_eq!(config.listen_port, Some(7));
    assert_eq!(config.peers[0].allowed_ips.len(), 2);
}

#[test]
fn off_values_and_defaults() {
    let text = format!("{}FwMark = off\n[Peer]\nPublicKey = {}\nPersistentKeepalive = off\n", minimal(), b64(0x11));
    let config = parse(&text).unwrap();
    assert_eq!(config.fwmark, Some(0));
    assert_eq!(config.peers[0].persistent_keepalive, Some(0));
    let config = parse(&minimal()).unwrap();
    assert_eq!((config.listen_port, config.fwmark, config.mtu, config.table.clone()), (None, None, None, None));
    assert!(config.addresses.is_empty() && config.dns.is_empty() && config.peers.is_empty());
    assert!(!config.save_config);
}

#[test]
fn save_config_and_repeats() {
    let text = format!(
        "{}SaveConfig = True\nMTU = 1400\nMTU = 1280\nAddress = 10.0.0.1\nAddress = 10.0.0.2 10.0.0.3\n",
        minimal()
    );
    let config = parse(&text).unwrap();
    assert!(config.save_config);
    assert_eq!(config.mtu, Some(1280));
    assert_eq!(
        config.addresses,
        vec![(ip("10.0.0.1"), 32), (ip("10.0.0.2"), 32), (ip("10.0.0.3"), 32)],
        "Address repeats and splits on spaces like wg-quick"
    );
}

#[test]
fn sections_may_come_in_any_order_and_interface_may_repeat() {
    let text = format!(
        "[Peer]\nPublicKey = {}\n[Interface]\nListenPort = 1\n[Interface]\nPrivateKey = {}\n",
        b64(0x11),
        b64(0x48)
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.listen_port, Some(1));
    assert_eq!(config.peers.len(), 1);
}

#[test]
fn public_key_of_the_interface() {
    let config = parse(&minimal()).unwrap();
    let expected = crate::keys::pubkey(&crate::keys::SecretKey::new([0x48; 32]));
    assert_eq!(config.public_key().0, expected);
}

#[test]
fn every_error_names_its_line() {
    let k = b64(0x11);
    let cases: Vec<(String, usize, &str)> = vec![
        (format!("ListenPort = 1\n{}", minimal()), 1, "setting outside of any [Interface] or [Peer] section"),
        (format!("{}[Interfaces]\n", minimal()), 3, "unknown section [Interfaces]"),
        (format!("{}ListenPort\n", minimal()), 3, "expected a [Section] header or `Key = Value`"),
        (format!("{}Foo = 1\n", minimal()), 3, "unknown key `Foo` in [Interface]"),
        (format!("{}[Peer]\nPublicKey = {k}\nAddress = 10.0.0.1\n", minimal()), 5, "unknown key `Address` in [Peer]"),
        ("[Interface]\nPrivateKey = nope\n".into(), 2, "PrivateKey: invalid base64 key"),
        (format!("{}ListenPort = 65536\n", minimal()), 3, "ListenPort: `65536` is not a port number (0-65535)"),
        (format!("{}FwMark = 0xfffffffff\n", minimal()), 3, "FwMark: `0xfffffffff` is neither off nor 0-0xffffffff"),
        (format!("{}Address = 10.0.0.1/33\n", minimal()), 3, "Address: `10.0.0.1/33` is not an IP address or prefix"),
        (format!("{}MTU = 100\n", minimal()), 3, "MTU: `100` is not an MTU (576-65535)"),
        (
            format!("{}DNS = 1.1.1.1, bad!name\n", minimal()),
            3,
            "DNS: `bad!name` is neither an IP address nor a domain name",
        ),
        (format!("{}SaveConfig = yes\n", minimal()), 3, "SaveConfig: `yes` is neither true nor false"),
        (format!("{}[Peer]\nPublicKey = {k}x\n", minimal()), 4, "PublicKey: invalid base64 key"),
        (
            format!("{}[Peer]\nPublicKey = {k}\nPresharedKey = {}\n", minimal(), &k[..40]),
            5,
            "PresharedKey: invalid base64 key",
        ),
        (
            format!("{}[Peer]\nPublicKey = {k}\nEndpoint = 192.0.2.1\n", minimal()),
            5,
            "Endpoint: expected host:port or [IPv6]:port, found `192.0.2.1`",
        ),
        (
            format!("{}[Peer]\nPublicKey = {k}\nEndpoint = 2001:db8::1:51820\n", minimal()),
            5,
            "Endpoint: an IPv6 endpoint must be written [address]:port, found `2001:db8::1:51820`",
        ),
        (
            format!("{}[Peer]\nPublicKey = {k}\nAllowedIPs = 10.0.0.0/8, 10.0.0.0/40\n", minimal()),
            5,
            "AllowedIPs: `10.0.0.0/40` is not an IP address or prefix",
        ),
        (
            format!("{}[Peer]\nPublicKey = {k}\nPersistentKeepalive = 70000\n", minimal()),
            5,
            "PersistentKeepalive: `70000` is neither off nor 0-65535",
        ),
        (format!("{}[Peer]\nEndpoint = 192.0.2.1:1\n", minimal()), 3, "[Peer] has no PublicKey"),
        ("# nothing\n\n[Interface]\nListenPort = 1\n".into(), 3, "[Interface] has no PrivateKey"),
    ];
    for (text, line, message) in cases {
        let (got_line, got) = error_of(&text);
        assert_eq!(got_line, Some(line), "{text}");
        assert_eq!(got, format!("wg0.conf:{line}: {message}"), "{text}");
    }
}

#[test]
fn a_missing_interface_is_a_whole_file_error() {
    let (line, message) = error_of(&format!("[Peer]\nPublicKey = {}\n", b64(0x11)));
    assert_eq!(line, None);
    assert_eq!(message, "wg0.conf: no [Interface] section");
    assert_eq!(error_of("").1, "wg0.conf: no [Interface] section");
}

#[test]
fn errors_never_show_keys() {
    // A private key pasted into the wrong key, the wrong section, or mangled.
    let secret = b64(0x77);
    let texts = [
        format!("[Interface]\nPrivatKey = {secret}\n"),
        format!("[Interface]\n{secret}\n"),
        format!("[Interface]\nPrivateKey = {secret}x\n"),
        format!("PrivateKey = {secret}\n"),
        format!("{}[Peer]\nPublicKey = {}\nPresharedKey = {}\n", minimal(), b64(1), &secret[1..]),
    ];
    for text in texts {
        let err = parse(&text).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(&secret[1..20]), "{shown}");
    }
    // Nor does the Debug form of a parsed config.
    let config = parse(&format!("[Interface]\nPrivateKey = {secret}\n")).unwrap();
    assert!(!format!("{config:?}").contains("119"), "0x77 = 119 must not appear");
}

#[test]
fn comments_cut_lines_anywhere() {
    let text = format!("[Interface] # main\nPrivateKey = {} # key\n# ListenPort = 1\nListenPort = 2#3\n", b64(0x48));
    let config = parse(&text).unwrap();
    assert_eq!(config.listen_port, Some(2));
}

#[test]
fn load_reads_the_file_and_names_the_interface() {
    let dir = std::env::temp_dir().join(format!("braid-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("wg7.conf");
    std::fs::write(&good, minimal()).unwrap();
    let loaded = load_config_file(&good).unwrap();
    assert_eq!(loaded.interface_name, "wg7");
    assert_eq!(loaded.config.private_key.expose(), &[0x48; 32]);

    let bad_name = dir.join("not a name.conf");
    std::fs::write(&bad_name, minimal()).unwrap();
    let err = load_config_file(&bad_name).unwrap_err();
    assert!(matches!(err.kind, ConfigFileErrorKind::BadInterfaceName));

    let missing = dir.join("wg8.conf");
    let err = load_config_file(&missing).unwrap_err();
    assert!(matches!(err.kind, ConfigFileErrorKind::Io(_)));
    assert!(err.to_string().starts_with(&missing.display().to_string()));

    let broken = dir.join("wg9.conf");
    std::fs::write(&broken, format!("{}ListenPort = x\n", minimal())).unwrap();
    let err = load_config_file(&broken).unwrap_err();
    assert_eq!(err.to_string(), format!("{}:3: ListenPort: `x` is not a port number (0-65535)", broken.display()));

    let binary = dir.join("wg10.conf");
    std::fs::write(&binary, b"[Interface]\n\xff\n").unwrap();
    assert!(matches!(load_config_file(&binary).unwrap_err().kind, ConfigFileErrorKind::NotUtf8));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn uapi_request_matches_wg_setconf() {
    let text = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = 51820\nAddress = 10.0.0.1/24\nPostUp = true\n\
         [Peer]\nPublicKey = {}\nPresharedKey = {}\nEndpoint = gateway.example:51820\nPersistentKeepalive = 25\n\
         AllowedIPs = 0.0.0.0/0, ::/0\n\
         [Peer]\nPublicKey = {}\nEndpoint = [2001:db8::2]:7\nAllowedIPs = 10.0.0.2/32\n\
         [Peer]\nPublicKey = {}\n",
        b64(0x48),
        b64(0x11),
        b64(0x33),
        b64(0x22),
        b64(0x44)
    );
    let config = parse(&text).unwrap();
    let mut asked = Vec::new();
    let request = to_uapi_set_with(&config, |spec| {
        asked.push(spec.to_string());
        match spec.literal() {
            Some(addr) => Ok(addr),
            None => Ok("192.0.2.77:51820".parse::<SocketAddr>().unwrap()),
        }
    })
    .unwrap();
    assert_eq!(asked, vec!["gateway.example:51820", "[2001:db8::2]:7"]);
    let expected = format!(
        "set=1\n\
         private_key={}\n\
         listen_port=51820\n\
         fwmark=0\n\
         replace_peers=true\n\
         public_key={}\n\
         preshared_key={}\n\
         endpoint=192.0.2.77:51820\n\
         persistent_keepalive_interval=25\n\
         replace_allowed_ips=true\n\
         allowed_ip=0.0.0.0/0\n\
         allowed_ip=::/0\n\
         public_key={}\n\
         endpoint=[2001:db8::2]:7\n\
         replace_allowed_ips=true\n\
         allowed_ip=10.0.0.2/32\n\
         public_key={}\n\
         replace_allowed_ips=true\n\
         \n",
        key_to_hex(&[0x48; 32]),
        key_to_hex(&[0x11; 32]),
        key_to_hex(&[0x33; 32]),
        key_to_hex(&[0x22; 32]),
        key_to_hex(&[0x44; 32]),
    );
    assert_eq!(request.as_str(), expected);
}

#[test]
fn unresolvable_endpoint_names_the_peer() {
    let text = format!("{}[Peer]\nPublicKey = {}\nEndpoint = nowhere.invalid:1\n", minimal(), b64(0x11));
    let config = parse(&text).unwrap();
    let err = to_uapi_set_with(&config, |_| Err(io::Error::new(io::ErrorKind::NotFound, "no such host"))).unwrap_err();
    assert_eq!(err.to_string(), format!("peer {}: cannot resolve endpoint nowhere.invalid:1: no such host", b64(0x11)));
}

#[test]
fn without_listen_port_setconf_asks_for_any_port() {
    let config = parse(&minimal()).unwrap();
    let request = to_uapi_set(&config).unwrap();
    assert!(request.contains("\nlisten_port=0\nfwmark=0\nreplace_peers=true\n\n"));
}

/// The request `to_uapi_set` produces is accepted by braid's own UAPI and configures the
/// device as the file says.
#[test]
fn uapi_request_applies_to_a_device() {
    use crate::uapi::{SetRequest, UapiHost};
    struct Host(u16, u32);
    impl UapiHost for Host {
        fn listen_port(&self) -> u16 {
            self.0
        }
        fn fwmark(&self) -> u32 {
            self.1
        }
        fn set_port_and_fwmark(&mut self, port: Option<u16>, mark: Option<u32>) -> Result<(), crate::uapi::Errno> {
            self.0 = port.unwrap_or(self.0);
            self.1 = mark.unwrap_or(self.1);
            Ok(())
        }
    }
    let text = format!(
        "{}ListenPort = 4500\nFwMark = 0x10\n[Peer]\nPublicKey = {}\nEndpoint = 192.0.2.9:4500\nAllowedIPs = 10.9.0.0/16\n",
        minimal(),
        b64(0x11)
    );
    let config = parse(&text).unwrap();
    let request = to_uapi_set(&config).unwrap();
    let body = request.strip_prefix("set=1\n").unwrap();
    let mut device = crate::uapi::tests::new_device();
    let mut host = Host(0, 0);
    SetRequest::parse(body).unwrap().apply(braid_proto::time::Instant::ZERO, &mut device, &mut host).unwrap();
    assert_eq!((host.0, host.1), (4500, 0x10));
    assert_eq!(device.public_key(), Some(config.public_key()));
    let peer = device.peer_by_key(&config.peers[0].public_key).unwrap();
    assert_eq!(device.route(ip("10.9.1.1")), Some(peer));
    assert_eq!(device.peer_stats(peer).unwrap().endpoint.map(|e| e.addr), Some("192.0.2.9:4500".parse().unwrap()));
}
