//! Outgoing segments and the answers given where no connection exists (CLOSED and LISTEN).

use braid_wire::tcp::{TcpFlags, TcpOptions, TcpRepr};

use super::seq::Seq;

/// A segment the stack wants to send: every header field, plus which bytes of the connection's send
/// buffer form the payload.
///
/// The payload is named by range rather than copied, so producing a segment never copies or
/// allocates; [`Connection::payload`](super::Connection::payload) returns the bytes (one contiguous
/// slice, exactly `payload_len` long) and [`Segment::repr`] builds the wire representation. The
/// range is relative to the front of the send buffer and stays valid until the connection is next
/// fed a segment or a user call changes it, so emit a segment before doing anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Our port.
    pub src_port: u16,
    /// The peer's port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: Seq,
    /// Acknowledgment number (meaningful when `flags.ack`).
    pub ack: Seq,
    /// Control bits.
    pub flags: TcpFlags,
    /// The 16-bit window field, already scaled down.
    pub window: u16,
    /// Options to emit.
    pub options: TcpOptions,
    /// Offset of the first payload byte from the front of the send buffer.
    pub payload_offset: usize,
    /// Payload length in bytes.
    pub payload_len: usize,
}

impl Segment {
    /// A header-only segment (no payload) with default options.
    pub fn control(src_port: u16, dst_port: u16, seq: Seq, ack: Seq, flags: TcpFlags, window: u16) -> Segment {
        Segment {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window,
            options: TcpOptions::default(),
            payload_offset: 0,
            payload_len: 0,
        }
    }

    /// Sequence space the segment occupies (payload plus SYN and FIN).
    pub fn segment_len(&self) -> usize {
        self.payload_len + usize::from(self.flags.syn) + usize::from(self.flags.fin)
    }

    /// The wire representation with `payload` (which must be this segment's payload; pass `&[]`
    /// for control segments).
    pub fn repr<'a>(&self, payload: &'a [u8]) -> TcpRepr<'a> {
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq.0,
            ack: if self.flags.ack { self.ack.0 } else { 0 },
            flags: self.flags,
            window: self.window,
            urgent: 0,
            options: self.options,
            payload,
        }
    }
}

/// RFC 9293 §3.10.7.1: the answer to a segment for which no connection exists (state CLOSED).
///
/// A RST is never answered. Otherwise the reset takes its sequence number from the segment's ACK
/// field, or is `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>` when the segment carries no ACK.
pub fn reset_for_closed(seg: &TcpRepr<'_>) -> Option<Segment> {
    if seg.flags.rst {
        return None;
    }
    let (seq, ack, with_ack) =
        if seg.flags.ack { (Seq(seg.ack), Seq(0), false) } else { (Seq(0), Seq(seg.seq) + seg.segment_len(), true) };
    let flags = TcpFlags { rst: true, ack: with_ack, ..TcpFlags::default() };
    Some(Segment::control(seg.dst_port, seg.src_port, seq, ack, flags, 0))
}

/// What a listening port does with an arriving segment (RFC 9293 §3.10.7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenAction {
    /// Drop it silently (a RST, or a segment with neither SYN nor ACK).
    Ignore,
    /// Answer with this RST (an ACK to a listener is always bogus).
    Reset(Segment),
    /// A SYN: create a connection with [`Connection::accept_syn`](super::Connection::accept_syn)
    /// if the backlog allows, otherwise drop it (the peer retries).
    Accept,
}

/// Classifies a segment arriving at a listener.
pub fn listen_action(seg: &TcpRepr<'_>) -> ListenAction {
    if seg.flags.rst {
        return ListenAction::Ignore;
    }
    if seg.flags.ack {
        let flags = TcpFlags { rst: true, ..TcpFlags::default() };
        return ListenAction::Reset(Segment::control(seg.dst_port, seg.src_port, Seq(seg.ack), Seq(0), flags, 0));
    }
    if seg.flags.syn {
        return ListenAction::Accept;
    }
    ListenAction::Ignore
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: TcpFlags, seq: u32, ack: u32, payload: &[u8]) -> TcpRepr<'_> {
        TcpRepr {
            src_port: 4000,
            dst_port: 80,
            seq,
            ack,
            flags,
            window: 100,
            urgent: 0,
            options: TcpOptions::default(),
            payload,
        }
    }

    #[test]
    fn closed_port_resets_per_rfc9293() {
        let syn = TcpFlags { syn: true, ..TcpFlags::default() };
        let r = reset_for_closed(&seg(syn, 1000, 0, b"")).unwrap();
        assert!(r.flags.rst && r.flags.ack && !r.flags.syn);
        assert_eq!((r.seq, r.ack, r.src_port, r.dst_port), (Seq(0), Seq(1001), 80, 4000));
        let data = TcpFlags { ack: true, psh: true, fin: true, ..TcpFlags::default() };
        let r = reset_for_closed(&seg(data, 1000, 777, b"abc")).unwrap();
        assert!(r.flags.rst && !r.flags.ack);
        assert_eq!(r.seq, Seq(777));
        let rst = TcpFlags { rst: true, ..TcpFlags::default() };
        assert_eq!(reset_for_closed(&seg(rst, 1, 2, b"")), None, "never answer a RST");
    }

    #[test]
    fn listener_accepts_syn_resets_ack_and_ignores_rst() {
        let syn = TcpFlags { syn: true, ..TcpFlags::default() };
        assert_eq!(listen_action(&seg(syn, 1, 0, b"")), ListenAction::Accept);
        let ack = TcpFlags { ack: true, ..TcpFlags::default() };
        match listen_action(&seg(ack, 1, 55, b"")) {
            ListenAction::Reset(r) => assert_eq!((r.seq, r.flags.rst), (Seq(55), true)),
            other => panic!("expected a reset, got {other:?}"),
        }
        let rst = TcpFlags { rst: true, syn: true, ..TcpFlags::default() };
        assert_eq!(listen_action(&seg(rst, 1, 0, b"")), ListenAction::Ignore);
        assert_eq!(listen_action(&seg(TcpFlags::default(), 1, 0, b"")), ListenAction::Ignore);
    }
}
