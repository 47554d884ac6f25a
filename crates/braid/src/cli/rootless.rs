//! `braid forward` and `braid socks`: a tunnel on braid's own TCP/IP stack, reached through
//! local ports or a proxy, for users who cannot (or need not) create a TUN device.

use crate::config::load_config_file;
use crate::rootless::local_tcp::LocalTcpForward;
use crate::rootless::local_udp::LocalUdpForward;
use crate::rootless::socks5::Credentials;
use crate::rootless::spec::{parse_local, parse_remote, ForwardSpec};
use crate::rootless::{http_proxy, remote_tcp, socks5, Rootless};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

fn fail(message: String) -> io::Error {
    io::Error::other(message)
}

/// What `braid forward` is asked to forward.
#[derive(Debug, Default)]
pub struct Forwards {
    /// `-L`: local TCP ports through the tunnel.
    pub local_tcp: Vec<String>,
    /// `-U`: local UDP ports through the tunnel.
    pub local_udp: Vec<String>,
    /// `-R`: ports of the tunnel's addresses to local services.
    pub remote_tcp: Vec<String>,
}

/// What `braid socks` serves.
#[derive(Debug)]
pub struct Proxies {
    /// The SOCKS5 proxy's address.
    pub socks: SocketAddr,
    /// The HTTP CONNECT proxy's address, if wanted.
    pub http: Option<SocketAddr>,
    /// A file holding `user:password` that every client must present.
    pub auth_file: Option<std::path::PathBuf>,
}

fn start(config: &Path) -> io::Result<(Rootless, String)> {
    if let Err(e) = braid_io::process::raise_descriptor_limit() {
        tracing::warn!(error = %e, "cannot raise the limit on open files: connections may be refused early");
    }
    let file = load_config_file(config).map_err(|e| fail(e.to_string()))?;
    if file.readable_by_others {
        eprintln!("braid: warning: {} is readable by others, and it holds a private key", config.display());
    }
    let rootless = Rootless::start(&config.display().to_string(), &file.config)
        .map_err(|e| fail(format!("{}: {e}", config.display())))?;
    Ok((rootless, file.interface_name))
}

/// The control socket, once everything listens: `braid show NAME` works from here on.
fn serve_control(rootless: &mut Rootless, name: &str) -> io::Result<()> {
    let path = rootless.serve_control(name).map_err(|e| fail(format!("control socket for {name}: {e}")))?;
    announce(&format!("braid: `braid show {name}` answers on {}", path.display()));
    Ok(())
}

/// Prints a line at once (a script reads the bound ports from it).
fn announce(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `braid forward CONFIG -L … -U … -R …`: runs until SIGINT or SIGTERM.
pub fn forward(config: &Path, forwards: &Forwards) -> io::Result<String> {
    let parse = |specs: &[String], parse: fn(&str) -> Result<ForwardSpec, _>| -> io::Result<Vec<ForwardSpec>> {
        specs.iter().map(|s| parse(s).map_err(|e: crate::rootless::spec::SpecError| fail(e.to_string()))).collect()
    };
    let local_tcp = parse(&forwards.local_tcp, parse_local)?;
    let local_udp = parse(&forwards.local_udp, parse_local)?;
    let remote_tcp = parse(&forwards.remote_tcp, parse_remote)?;
    if local_tcp.is_empty() && local_udp.is_empty() && remote_tcp.is_empty() {
        return Err(fail("nothing to forward: give -L, -U or -R".into()));
    }
    let signals = Signals::register()?;
    let (mut rootless, name) = start(config)?;
    announce(&format!("braid: tunnel up, UDP port {}", rootless.tunnel().listen_port()));
    for spec in &local_tcp {
        let stats = Arc::default();
        let forward = LocalTcpForward::start(spec, rootless.context(), Arc::clone(&stats))?;
        announce(&format!("forward tcp {} -> {}", forward.local_addr(), spec.target));
        rootless.track(format!("-L {} -> {}", forward.local_addr(), spec.target), stats);
    }
    for spec in &local_udp {
        let stats = Arc::default();
        let forward = LocalUdpForward::start(spec, rootless.context(), Arc::clone(&stats))?;
        announce(&format!("forward udp {} -> {}", forward.local_addr(), spec.target));
        rootless.track(format!("-U {} -> {}", forward.local_addr(), spec.target), stats);
    }
    for spec in &remote_tcp {
        let stats = Arc::default();
        remote_tcp::start(spec, rootless.context(), Arc::clone(&stats))?;
        announce(&format!("remote tcp tunnel port {} -> {}", spec.listen.port(), spec.target));
        rootless.track(format!("-R {spec}"), stats);
    }
    serve_control(&mut rootless, &name)?;
    signals.wait();
    Ok(stop(rootless))
}

/// `braid socks CONFIG [--listen …] [--http …] [--auth-file …]`: runs until SIGINT or SIGTERM.
pub fn socks(config: &Path, proxies: &Proxies) -> io::Result<String> {
    let auth = match &proxies.auth_file {
        Some(path) => Some(read_credentials(path)?),
        None => None,
    };
    let signals = Signals::register()?;
    let (mut rootless, name) = start(config)?;
    announce(&format!("braid: tunnel up, UDP port {}", rootless.tunnel().listen_port()));
    let stats = Arc::default();
    let bound = socks5::start(proxies.socks, rootless.context(), Arc::clone(&stats), auth.clone())?;
    announce(&format!("socks5 {bound}"));
    rootless.track(format!("socks5 {bound}"), stats);
    if let Some(http) = proxies.http {
        let stats = Arc::default();
        let bound = http_proxy::start(http, rootless.context(), Arc::clone(&stats), auth)?;
        announce(&format!("http-connect {bound}"));
        rootless.track(format!("http-connect {bound}"), stats);
    }
    serve_control(&mut rootless, &name)?;
    signals.wait();
    Ok(stop(rootless))
}

/// `user:password` on the first line of `path`, which others must not be able to read.
fn read_credentials(path: &Path) -> io::Result<Credentials> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    if meta.mode() & 0o077 != 0 {
        return Err(fail(format!(
            "{}: others may read it (mode {:o}); chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        )));
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path)?);
    let line = text.lines().next().unwrap_or_default();
    let (user, password) = line
        .split_once(':')
        .ok_or_else(|| fail(format!("{}: expected `user:password` on its first line", path.display())))?;
    if user.is_empty() || user.len() > 255 || password.len() > 255 {
        return Err(fail(format!("{}: user and password must be 1-255 bytes", path.display())));
    }
    Ok(Credentials { user: user.to_owned(), password: zeroize::Zeroizing::new(password.to_owned()) })
}

/// SIGINT, SIGTERM, SIGHUP and SIGQUIT, caught from the start (so that one arriving while
/// the tunnel comes up still ends it cleanly).
struct Signals {
    read: std::os::unix::net::UnixStream,
}

impl Signals {
    fn register() -> io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        let (read, write) = std::os::unix::net::UnixStream::pair()?;
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        Ok(Signals { read })
    }

    fn wait(mut self) {
        use std::io::Read;
        let mut byte = [0u8; 1];
        while let Err(e) = self.read.read(&mut byte) {
            if e.kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
    }
}

fn stop(rootless: Rootless) -> String {
    let mut summary = String::new();
    for (name, stats) in rootless.stats() {
        let (accepted, _, failed, out, inb) = stats.snapshot();
        summary
            .push_str(&format!("{name}: {accepted} connections ({failed} failed), {out} bytes out, {inb} bytes in\n"));
    }
    rootless.shutdown();
    summary + "braid: stopped\n"
}
