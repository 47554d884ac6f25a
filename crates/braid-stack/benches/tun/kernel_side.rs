//! The kernel's end of a run, executed inside the namespace as a child process
//! (`ip netns exec NS <this bench> --kernel-side <addr> sink|source <bytes>`): std::net over the
//! kernel's TCP. It listens, prints `ready`, accepts one connection, and then either reads until
//! end of stream (`sink`) or writes `bytes` and closes (`source`); it prints `ok <bytes moved>`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

pub fn main(args: &[String]) -> i32 {
    match run(args) {
        Ok(moved) => {
            println!("ok {moved}");
            0
        }
        Err(e) => {
            eprintln!("kernel side: {e}");
            1
        }
    }
}

fn run(args: &[String]) -> Result<u64, String> {
    let [addr, mode, bytes] = args else { return Err(format!("bad arguments {args:?}")) };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let bytes: u64 = bytes.parse().map_err(|e| format!("{bytes}: {e}"))?;
    let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    println!("ready");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut stream = listener.accept().map_err(|e| format!("accept: {e}"))?.0;
    let mut buf = vec![0x5au8; 256 * 1024];
    let mut moved = 0u64;
    match mode.as_str() {
        "sink" => loop {
            let n = stream.read(&mut buf).map_err(|e| format!("read at {moved}: {e}"))?;
            if n == 0 {
                break;
            }
            moved += n as u64;
        },
        "source" => {
            while moved < bytes {
                let n = (bytes - moved).min(buf.len() as u64) as usize;
                stream.write_all(&buf[..n]).map_err(|e| format!("write at {moved}: {e}"))?;
                moved += n as u64;
            }
        }
        other => return Err(format!("unknown mode {other}")),
    }
    Ok(moved)
}
