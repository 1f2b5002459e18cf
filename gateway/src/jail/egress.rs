//! Egress for jailed processes: HTTPS out through a proxy that applies
//! the host's rules, where the host allows any (config `jail.network`).
//!
//! The jail's network namespace holds nothing but its own loopback, so a
//! jailed program reaches nothing by itself. With egress allowed:
//!
//! - before leaving the host's network, the helper forks a **gate**, which
//!   stays there, joined to the helper by a socket pair;
//! - inside, the helper listens on the jail's loopback ([`PROXY_PORT`]) as
//!   an HTTP `CONNECT` proxy; the jail's `HTTPS_PROXY` (and its spellings)
//!   names it, which cargo, npm, pip, git and curl all honour;
//! - each connection it accepts goes, with the `host:port` asked for, to
//!   the gate (the socket itself, passed as `SCM_RIGHTS`). The gate checks
//!   the name against the allow list, resolves it, refuses loopback,
//!   private, link-local and the other special ranges unless the entry
//!   names that very host, connects to an address it checked (a second DNS
//!   answer cannot change it) and relays the bytes. A refusal is a `403`
//!   that says why.
//!
//! Only `CONNECT` passes, so what leaves the jail is TLS the program itself
//! checks; plain `http://` through the proxy answers `405`.

use crate::egress::EgressPolicy;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// Where the proxy listens, on the jail's own loopback.
pub const PROXY_PORT: u16 = 3128;
/// How long a client may take to say where it goes, and a connection to open.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// The longest request head the proxy reads.
const MAX_HEAD: usize = 8192;
/// Connections a jail may have open through the proxy at once: each holds
/// threads outside the jail's process limit.
const MAX_TUNNELS: usize = 64;

/// Counts open connections against [`MAX_TUNNELS`]; a slot is given back
/// when dropped.
#[derive(Clone, Default)]
struct Slots(std::sync::Arc<std::sync::atomic::AtomicUsize>);

struct Slot(Slots);

impl Slots {
    fn take(&self) -> Option<Slot> {
        use std::sync::atomic::Ordering;
        let taken = self.0.fetch_add(1, Ordering::AcqRel);
        if taken >= MAX_TUNNELS {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(self.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// In the helper, before it leaves the host's network: forks the gate and
/// returns the helper's end of the pair.
pub(super) fn open_gate(policy: &EgressPolicy) -> Result<OwnedFd, String> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
    let (helper, gate) = socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
        .map_err(|e| format!("a socket pair: {e}"))?;
    // SAFETY: the helper has one thread here, so the child may do anything.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(helper);
            // SAFETY: a plain prctl on this process: end with the helper.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            serve_gate(&gate, policy);
            std::process::exit(0)
        }
        _ => Ok(helper),
    }
}

/// The gate: takes connections from the helper until it is gone.
fn serve_gate(helper: &OwnedFd, policy: &EgressPolicy) {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
    let slots = Slots::default();
    loop {
        let mut target = [0u8; 512];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = match recvmsg(helper, &mut [IoSliceMut::new(&mut target)], &mut control, RecvFlags::CMSG_CLOEXEC)
        {
            Ok(received) if received.bytes > 0 => received,
            Ok(_) => return,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        };
        let target = String::from_utf8_lossy(&target[..received.bytes]).into_owned();
        let client = control.drain().find_map(|message| match message {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        });
        let Some(client) = client.map(TcpStream::from) else { continue };
        let Some(slot) = slots.take() else {
            refuse(&client, "429 Too Many Requests", &format!("more than {MAX_TUNNELS} connections at once"));
            continue;
        };
        let policy = policy.clone();
        std::thread::spawn(move || {
            connect(&policy, &target, client);
            drop(slot);
        });
    }
}

/// Opens `target` for `client` if the policy allows it, and relays.
fn connect(policy: &EgressPolicy, target: &str, mut client: TcpStream) {
    let opened = parse_target(target).and_then(|(host, port)| {
        let addresses = policy.check(&host, port)?;
        let mut last = String::new();
        for address in addresses {
            match TcpStream::connect_timeout(&address, HANDSHAKE) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = format!("{host}:{port}: {e}"),
            }
        }
        Err(last)
    });
    match opened {
        Ok(upstream) => {
            if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_ok() {
                relay(client, upstream);
            }
        }
        Err(why) => refuse(&mut client, "403 Forbidden", &why),
    }
}

/// `host:port` or `[v6]:port`.
fn parse_target(target: &str) -> Result<(String, u16), String> {
    let (host, port) = target.rsplit_once(':').ok_or_else(|| format!("{target}: no port"))?;
    let port = port.parse().map_err(|_| format!("{target}: not a port"))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// Copies bytes both ways until either side closes.
fn relay(client: TcpStream, upstream: TcpStream) {
    let (Ok(mut client_back), Ok(mut upstream_back)) = (client.try_clone(), upstream.try_clone()) else { return };
    let (mut client, mut upstream) = (client, upstream);
    let out = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client, &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream_back, &mut client_back);
    let _ = client_back.shutdown(std::net::Shutdown::Write);
    let _ = out.join();
}

fn refuse(mut client: impl Write, status: &str, why: &str) {
    let body = format!("wasmgate: {why}\n");
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(reply.as_bytes());
}

/// In the helper, inside the jail's network: the proxy's listener.
pub(super) fn listen() -> Result<TcpListener, String> {
    TcpListener::bind(("127.0.0.1", PROXY_PORT)).map_err(|e| format!("the egress proxy's port: {e}"))
}

/// In the helper, once pid 1 runs: forks the forwarder, which accepts the
/// jail's connections and hands each, with where it asks to go, to the
/// gate. (A process, not a thread: after `unshare(CLONE_NEWPID)` the
/// helper cannot start threads. The forwarder is pid 2 of the jail's tree,
/// so it ends with it; it is not dumpable, and Landlock keeps the jailed
/// programs from tracing it.)
pub(super) fn start_forwarder(listener: TcpListener, gate: OwnedFd) -> Result<(), String> {
    // SAFETY: the helper has one thread, so the child may do anything.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            // SAFETY: plain prctls on this process.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::prctl(libc::PR_SET_DUMPABLE, 0);
            }
            forward(listener, gate);
            std::process::exit(0)
        }
        _ => {
            drop((listener, gate));
            Ok(())
        }
    }
}

fn forward(listener: TcpListener, gate: OwnedFd) {
    let gate = std::sync::Arc::new(gate);
    let slots = Slots::default();
    for mut client in listener.incoming().flatten() {
        let Some(slot) = slots.take() else {
            refuse(&mut client, "429 Too Many Requests", &format!("more than {MAX_TUNNELS} requests at once"));
            continue;
        };
        let gate = gate.clone();
        std::thread::spawn(move || {
            match read_connect(&mut client) {
                Ok(target) => {
                    let _ = send(&gate, &target, &client);
                }
                Err((status, why)) => refuse(&mut client, status, &why),
            }
            drop(slot);
        });
    }
}

/// Reads a request head and returns a `CONNECT`'s target.
fn read_connect(client: &mut TcpStream) -> Result<String, (&'static str, String)> {
    let _ = client.set_read_timeout(Some(HANDSHAKE));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        match client.read(&mut byte) {
            Ok(1) if head.len() < MAX_HEAD => head.push(byte[0]),
            _ => return Err(("400 Bad Request", "an incomplete or oversized request".into())),
        }
    }
    let _ = client.set_read_timeout(None);
    let head = String::from_utf8_lossy(&head);
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    match (words.next(), words.next()) {
        (Some("CONNECT"), Some(target)) if target.len() < 300 => Ok(target.to_string()),
        _ => Err(("405 Method Not Allowed", "only HTTPS (CONNECT) goes through this proxy".into())),
    }
}

/// Passes `client` and its target to the gate.
fn send(gate: &OwnedFd, target: &str, client: &TcpStream) -> rustix::io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let fds = [client.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(gate, &[IoSlice::new(target.as_bytes())], &mut control, SendFlags::empty())
}
