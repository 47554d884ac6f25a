//! Framing: several operations per connection, arbitrary read boundaries, malformed input.

use super::*;
use crate::uapi::UapiLimits;
use proptest::prelude::*;

fn feed(session: &mut UapiSession, device: &mut Device, host: &mut FakeHost, input: &[u8]) -> String {
    String::from_utf8(session.feed(input, Instant::ZERO, device, host)).unwrap()
}

#[test]
fn several_operations_on_one_connection() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let mut session = UapiSession::new();
    let input = format!("set=1\nlisten_port=7\n\nget=1\n\nset=1\npublic_key={}\n\nget=1\n\n", hex_of(0x11));
    let out = feed(&mut session, &mut device, &mut host, input.as_bytes());
    let expected_peer = format!(
        "listen_port=7\npublic_key={}\npreshared_key={ZERO_HEX}\nprotocol_version=1\n\
         last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n\
         persistent_keepalive_interval=0\nerrno=0\n\n",
        hex_of(0x11)
    );
    assert_eq!(out, format!("{OK}listen_port=7\n{OK}{OK}{expected_peer}"));
    assert!(!session.is_closed());
    assert_eq!(session.finish(), b"");
    assert!(session.is_closed());
}

#[test]
fn nothing_is_answered_until_the_request_is_complete() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let mut session = UapiSession::new();
    assert_eq!(feed(&mut session, &mut device, &mut host, b"set=1\nlisten_port=5"), "");
    assert_eq!(host.port, 0, "not applied before the blank line");
    assert_eq!(feed(&mut session, &mut device, &mut host, b"\n"), "");
    assert_eq!(feed(&mut session, &mut device, &mut host, b"\n"), OK);
    assert_eq!(host.port, 5);
    assert_eq!(feed(&mut session, &mut device, &mut host, b"get=1\n"), "");
    assert_eq!(feed(&mut session, &mut device, &mut host, b"\n"), format!("listen_port=5\n{OK}"));
}

#[test]
fn an_invalid_set_is_answered_and_the_connection_stays_usable() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let mut session = UapiSession::new();
    let out = feed(&mut session, &mut device, &mut host, b"set=1\nfoo=1\nlisten_port=5\n\nget=1\n\n");
    assert_eq!(out, format!("{EINVAL}{OK}"));
    assert_eq!(host.port, 0);
    assert!(!session.is_closed());
}

#[test]
fn line_without_equals_in_a_set_is_a_protocol_error() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    assert_eq!(exchange(&mut device, &mut host, "set=1\ngarbage\n\n"), "errno=-71\n\n");
}

#[test]
fn crlf_lines_inside_a_set_are_accepted() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    assert_eq!(exchange(&mut device, &mut host, "set=1\nlisten_port=5\r\n\r\n"), OK);
    assert_eq!(host.port, 5);
}

#[test]
fn framing_errors_are_answered_then_the_session_closes() {
    let cases: &[(&[u8], &str)] = &[
        (b"foo=1\nget=1\n\n", "errno=-71\n\n"),
        (b"\nget=1\n\n", "errno=-71\n\n"),
        (b"get=1\r\n\n", "errno=-71\n\n"),
        (b"GET=1\n\n", "errno=-71\n\n"),
        (b"get=1\nx\nget=1\n\n", "errno=-22\n\n"),
        (b"\xff\xfe\n", "errno=-71\n\n"),
    ];
    for (input, reply) in cases {
        let mut device = new_device();
        let mut host = FakeHost::default();
        let mut session = UapiSession::new();
        let out = feed(&mut session, &mut device, &mut host, input);
        assert_eq!(out, *reply, "{:?}", String::from_utf8_lossy(input));
        assert!(session.is_closed());
        assert_eq!(feed(&mut session, &mut device, &mut host, b"get=1\n\n"), "", "input after close is ignored");
        assert_eq!(session.finish(), b"");
    }
}

#[test]
fn non_utf8_inside_a_set_is_invalid() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let mut session = UapiSession::new();
    assert_eq!(feed(&mut session, &mut device, &mut host, b"set=1\nlisten_port=\xff\n\n"), EINVAL);
    assert!(!session.is_closed());
}

#[test]
fn end_of_input_inside_a_request_is_an_error_and_applies_nothing() {
    for partial in [&b"set=1\nlisten_port=5\n"[..], b"set=1\nlisten_port=5", b"get=1\n", b"ge", b"set=1\n"] {
        let mut device = new_device();
        let mut host = FakeHost::default();
        let mut session = UapiSession::new();
        assert_eq!(feed(&mut session, &mut device, &mut host, partial), "");
        assert_eq!(session.finish(), b"errno=-71\n\n");
        assert_eq!(host.port, 0);
        assert!(session.is_closed());
    }
}

#[test]
fn over_long_lines_and_requests_are_refused() {
    let limits = UapiLimits { max_request_bytes: 100, max_line_bytes: 20 };
    let mut device = new_device();
    let mut host = FakeHost::default();

    let mut session = UapiSession::with_limits(limits);
    assert_eq!(feed(&mut session, &mut device, &mut host, b"set=1\nlisten_port=000000000005\n\n"), "errno=-90\n\n");
    assert!(session.is_closed());
    assert_eq!(host.port, 0);

    // A long line is refused as soon as it is too long, without waiting for its end.
    let mut session = UapiSession::with_limits(limits);
    assert_eq!(feed(&mut session, &mut device, &mut host, &[b'a'; 21]), "errno=-90\n\n");

    let mut session = UapiSession::with_limits(limits);
    let mut request = b"set=1\n".to_vec();
    for _ in 0..10 {
        request.extend_from_slice(b"listen_port=1\n");
    }
    assert_eq!(feed(&mut session, &mut device, &mut host, &request), "errno=-90\n\n");
    assert_eq!(host.port_calls, Vec::<u16>::new());

    // The request limit is per request: many small requests on one connection are fine.
    let mut session = UapiSession::with_limits(limits);
    for _ in 0..20 {
        assert_eq!(feed(&mut session, &mut device, &mut host, b"set=1\nlisten_port=1\n\n"), OK);
    }
}

#[test]
fn default_limits_fit_a_large_request() {
    let limits = UapiLimits::default();
    assert!(limits.max_request_bytes >= 130_000 * "allowed_ip=255.255.255.255/32\n".len());
    assert!(limits.max_line_bytes >= "endpoint=[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535".len());
}

fn session_output(chunks: &[&[u8]]) -> (Vec<u8>, String) {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let mut session = UapiSession::new();
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(session.feed(chunk, Instant::ZERO, &mut device, &mut host));
    }
    out.extend(session.finish());
    (out, get(&mut device, &mut host))
}

proptest! {
    /// Where the reads split the stream never changes the replies or the result.
    #[test]
    fn read_boundaries_do_not_matter(cuts in proptest::collection::vec(0usize..400, 0..12)) {
        let stream = format!(
            "set=1\nprivate_key={PRIVATE_HEX}\nlisten_port=9\npublic_key={}\nallowed_ip=10.0.0.0/8\n\n\
             get=1\n\nset=1\nbad=1\n\nset=1\npublic_key={}\nremove=true\n\nget=1\n\n",
            hex_of(0x11), hex_of(0x11)
        );
        let bytes = stream.as_bytes();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in cuts {
            chunks.push(&bytes[start..cut]);
            start = cut;
        }
        chunks.push(&bytes[start..]);
        prop_assert_eq!(session_output(&chunks), session_output(&[bytes]));
    }

    /// Arbitrary bytes never panic, and every reply is a well-formed errno line.
    #[test]
    fn garbage_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (out, _) = session_output(&[b"set=1\n", &input]);
        let text = String::from_utf8(out).unwrap();
        prop_assert!(text.is_empty() || text.ends_with("\n\n"));
        for line in text.lines().filter(|l| l.starts_with("errno=")) {
            prop_assert!(line["errno=".len()..].parse::<i64>().is_ok(), "{}", line);
        }
    }

    /// Text-like garbage built from real keys and values exercises the parser more deeply.
    #[test]
    fn plausible_requests_never_panic(lines in proptest::collection::vec(
        "(public_key|private_key|preshared_key|endpoint|allowed_ip|listen_port|fwmark|remove|update_only|replace_peers|replace_allowed_ips|persistent_keepalive_interval|protocol_version)=[-0-9a-f.:/\\[\\]%]{0,70}",
        0..20,
    )) {
        let mut request = String::from("set=1\n");
        for line in &lines {
            request.push_str(line);
            request.push('\n');
        }
        request.push('\n');
        let (out, _) = session_output(&[request.as_bytes()]);
        prop_assert!(String::from_utf8(out).unwrap().starts_with("errno="));
    }
}

#[test]
fn replies_are_handed_out_a_chunk_at_a_time_and_the_rest_of_the_input_waits() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let mut session = UapiSession::new();
    let one = get(&mut device, &mut host);
    let input = b"get=1\n\n".repeat(1000);
    let limit = 4 * one.len() + 1;
    let (mut done, mut replies) = (0, 0);
    while done < input.len() {
        let (used, out) = session.feed_some(&input[done..], Instant::ZERO, &mut device, &mut host, limit);
        assert!(used > 0, "progress");
        assert!(out.len() < limit + one.len(), "{} bytes held at once", out.len());
        assert_eq!(out.len() % one.len(), 0);
        replies += out.len() / one.len();
        done += used;
    }
    assert_eq!(replies, 1000, "every request answered, none lost at a chunk's edge");
    assert!(!session.is_closed());
}
