//! Scripted tests of the connection state machine (packetdrill-style, simulated time), and a
//! two-connection transfer over a lossy, reordering in-memory network.

mod harness;

mod close;
mod data;
mod handshake;
mod keep_alive;
mod loss;
mod network;
mod options;
mod pacing;
mod reset;
mod window;
