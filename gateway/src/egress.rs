//! Where anything wasmgate runs may connect: the host's allow and deny
//! lists, and the addresses no list entry reaches by accident.
//!
//! One policy type serves both ways out: the jail's HTTPS proxy (config
//! `sandbox.jail.network`, see `jail::egress`) and the `wasi:http` requests
//! of the components granted the network (config `sandbox.web`, see the
//! sandbox's `outgoing_http`). A connection is checked as a whole:
//!
//! 1. the name against the deny list, then the allow list (with its port);
//! 2. the name resolved once, every address checked: loopback, private,
//!    link-local, carrier-grade NAT and the other special ranges are refused
//!    unless the allow entry names that very host (so `*` never reaches
//!    `169.254.169.254` or a `localhost` by another name), and a deny entry
//!    naming an address refuses it whatever name led there;
//! 3. the caller connects to one of the addresses returned, never to the
//!    name again, so a second DNS answer cannot change where it goes.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The ports a web policy's entries without one allow: HTTP's and HTTPS's.
pub const WEB_PORTS: [u16; 2] = [80, 443];

/// An allow list, a deny list and the ports entries without one allow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressPolicy {
    /// `crates.io`, `*.npmjs.org` (any name under it), `host:port`, an
    /// address (`127.0.0.1:8080`, `[::1]:9000`), or `*` for any host on the
    /// public internet.
    pub allow: Vec<String>,
    /// Entries in the same forms, refused even where `allow` lets them in;
    /// one without a port refuses every port. An address here refuses it
    /// whatever name resolves to it.
    #[serde(default)]
    pub deny: Vec<String>,
    /// The ports an allow entry without one allows (443 when empty).
    #[serde(default)]
    pub ports: Vec<u16>,
}

impl EgressPolicy {
    /// A policy that allows nothing.
    pub fn nothing() -> Self {
        EgressPolicy::default()
    }

    /// Any host on the public internet, over HTTP and HTTPS (the web
    /// fetch's default).
    pub fn public_web() -> Self {
        EgressPolicy { allow: vec!["*".into()], deny: Vec::new(), ports: WEB_PORTS.to_vec() }
    }

    /// Whether `host:port` passes the lists by name: `Ok(true)` where the
    /// allow entry names the host itself (which may then be a private
    /// address).
    fn admit(&self, host: &str, port: u16) -> Result<bool, String> {
        let host = normal_host(host);
        if self.deny.iter().any(|entry| matches(entry, &host, port, None).is_some()) {
            return Err(format!("{host}:{port} is in the host's deny list"));
        }
        let default_ports = if self.ports.is_empty() { &[443][..] } else { &self.ports[..] };
        self.allow
            .iter()
            .find_map(|entry| matches(entry, &host, port, Some(default_ports)))
            .ok_or_else(|| format!("{host}:{port} is not in the host's allow list"))
    }

    /// What may be reached of `addresses`, which `host` resolved to.
    fn screen(&self, host: &str, named: bool, addresses: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
        let host = normal_host(host);
        let denied = |ip: IpAddr| {
            self.deny.iter().any(|entry| split_port(entry).is_some_and(|(h, _)| unbracketed(h).parse() == Ok(ip)))
        };
        if let Some(address) = addresses.iter().find(|a| denied(a.ip())) {
            return Err(format!("{host} resolves to {}, which is in the host's deny list", address.ip()));
        }
        if let Some(special) = addresses.iter().find(|a| is_special(a.ip())).filter(|_| !named) {
            return Err(format!(
                "{host} resolves to {}, a loopback, private or reserved address: only an entry naming {host} itself allows that",
                special.ip()
            ));
        }
        if addresses.is_empty() {
            return Err(format!("{host} has no address"));
        }
        Ok(addresses)
    }

    /// The addresses `host:port` may be reached at, or why it may not
    /// (resolving on this thread).
    pub fn check(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let named = self.admit(host, port)?;
        let addresses: Vec<SocketAddr> =
            (unbracketed(host), port).to_socket_addrs().map_err(|e| format!("{host} does not resolve: {e}"))?.collect();
        self.screen(host, named, addresses)
    }

    /// [`EgressPolicy::check`], resolving without blocking the thread.
    pub async fn check_async(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let named = self.admit(host, port)?;
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((unbracketed(host), port))
            .await
            .map_err(|e| format!("{host} does not resolve: {e}"))?
            .collect();
        self.screen(host, named, addresses)
    }
}

/// A host as entries are compared with it: lower case, no final dot, no
/// brackets around an IPv6 address.
fn normal_host(host: &str) -> String {
    unbracketed(host).trim_end_matches('.').to_ascii_lowercase()
}

fn unbracketed(host: &str) -> &str {
    host.trim_matches(['[', ']'])
}

/// Whether `entry` covers `host:port`: `Some(true)` where it names the host
/// itself, `Some(false)` through a wildcard. `default_ports` are those an
/// entry without a port covers (`None`: every port).
fn matches(entry: &str, host: &str, port: u16, default_ports: Option<&[u16]>) -> Option<bool> {
    let entry = entry.to_ascii_lowercase();
    let (pattern, entry_port) = split_port(&entry)?;
    let port_fits = match entry_port {
        Some(p) => p == port,
        None => default_ports.is_none_or(|ports| ports.contains(&port)),
    };
    if !port_fits {
        return None;
    }
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => Some(false),
        Some(domain) => host.ends_with(&format!(".{domain}")).then_some(false),
        None => (normal_host(pattern) == host).then_some(true),
    }
}

/// An entry's host pattern and port (`None`: the default ports).
fn split_port(entry: &str) -> Option<(&str, Option<u16>)> {
    match entry.rsplit_once(':') {
        // `[::1]:8080`, `host:443`; a bare IPv6 address has colons but no port.
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => Some((host, Some(port.parse().ok()?))),
        _ => Some((entry, None)),
    }
}

/// Whether `ip` is anything but a public unicast address.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_special(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                || (first == 0x0064 && v6.segments()[1] == 0xff9b)
                || first == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str]) -> EgressPolicy {
        EgressPolicy { allow: allow.iter().map(|s| s.to_string()).collect(), ..EgressPolicy::nothing() }
    }

    #[test]
    fn entries_match_names_wildcards_and_ports() {
        let p = policy(&["crates.io", "*.npmjs.org", "127.0.0.1:8080", "[::1]:9000"]);
        assert_eq!(p.admit("crates.io", 443), Ok(true));
        assert_eq!(p.admit("CRATES.IO.", 443), Ok(true));
        assert!(p.admit("crates.io", 80).is_err(), "only 443 by default");
        assert_eq!(p.admit("registry.npmjs.org", 443), Ok(false));
        assert!(p.admit("npmjs.org.evil.com", 443).is_err());
        assert!(p.admit("evilnpmjs.org", 443).is_err());
        assert_eq!(p.admit("127.0.0.1", 8080), Ok(true));
        assert!(p.admit("127.0.0.1", 443).is_err());
        assert_eq!(p.admit("::1", 9000), Ok(true));
        assert_eq!(p.admit("[::1]", 9000), Ok(true));
        assert_eq!(policy(&["*"]).admit("example.com", 443), Ok(false));
        let web = EgressPolicy { ports: vec![80, 443], ..policy(&["*"]) };
        assert_eq!(web.admit("example.com", 80), Ok(false));
        assert!(web.admit("example.com", 8080).is_err());
    }

    #[test]
    fn the_deny_list_wins_by_name_and_by_address() {
        let p = EgressPolicy {
            deny: vec!["*.internal.example".into(), "blocked.example:443".into(), "127.0.0.1".into()],
            ..policy(&["*", "localhost:8080"])
        };
        assert!(p.admit("db.internal.example", 443).unwrap_err().contains("deny list"));
        assert!(p.admit("blocked.example", 443).is_err());
        assert_eq!(p.admit("blocked.example", 8443).ok(), None, "not allowed either: 8443 is no default port");
        let error = p.check("localhost", 8080).unwrap_err();
        assert!(error.contains("deny list"), "named in allow, but its address is denied: {error}");
    }

    #[test]
    fn special_addresses_need_an_entry_naming_the_host() {
        for address in
            ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]
        {
            let error = policy(&["*"]).check(address, 443).unwrap_err();
            assert!(error.contains("loopback, private or reserved"), "{address}: {error}");
        }
        for address in ["::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"] {
            assert!(policy(&["*"]).check(address, 443).is_err(), "{address}");
        }
        assert_eq!(policy(&["localhost"]).check("localhost", 443).map(|a| a.is_empty()), Ok(false));
        assert!(policy(&["*"]).check("localhost", 443).is_err(), "a name resolving to loopback");
        assert!(policy(&[]).check("1.1.1.1", 443).unwrap_err().contains("not in the host's allow list"));
        assert!(!is_special("1.1.1.1".parse().unwrap()) && !is_special("2606:4700::1111".parse().unwrap()));
    }
}
