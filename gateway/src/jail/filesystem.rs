//! The jail's filesystem, as Landlock rules: what a jailed process may
//! read, write and execute. Everything else, even for root, is refused.
//!
//! - the workspace (by the grant's handle): everything under a read-write
//!   grant, read and execute under a read-only one;
//! - the private temporary folder: everything;
//! - the system's programs and libraries, `/etc` but its secrets, the
//!   host's toolchain folders but their credentials: read and execute;
//! - the jail's own `/proc`, the CPU list in `/sys`: read;
//! - `/dev/null`, `/dev/zero`, `/dev/full`, `/dev/random`, `/dev/urandom`.
//!
//! Landlock's scopes also keep signals and abstract unix sockets inside the
//! jail. ABI 6 (Linux 6.12) is required, never downgraded: where the kernel
//! has less, the jail is not built.

use super::Spec;
use landlock::{
    ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope,
};
use std::os::fd::{BorrowedFd, RawFd};
use std::path::Path;

/// The Landlock ABI the jail needs (filesystem, ioctl and scope rules).
const REQUIRED: ABI = ABI::V6;

/// Folders of programs and libraries, read and executed.
const SYSTEM_FOLDERS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Entries of `/etc` never readable: password hashes, host keys, private
/// keys and credentials, sudo's rules, this server's own configuration.
const ETC_SECRETS: &[&str] = &[
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "sudoers",
    "sudoers.d",
    "ssh",
    "ssl",
    "security",
    "krb5.keytab",
    "credstore",
    "credstore.encrypted",
    "ipsec.secrets",
    "ppp",
    "wireguard",
    "openvpn",
    "NetworkManager",
    "docker",
    "letsencrypt",
    "subuid",
    "subgid",
    "wasmgate",
];

/// Entries of a toolchain folder never readable: registry tokens and other
/// credentials (`~/.cargo/credentials.toml`, `.npmrc`, `.pypirc`, ...).
const TOOLCHAIN_SECRETS: &[&str] = &[
    "credentials",
    "credentials.toml",
    ".credentials.toml",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    "auth.json",
];

/// What of `/etc/ssl` is public: the certificate authorities.
const ETC_PUBLIC: &[&str] = &["/etc/ssl/certs", "/etc/ssl/openssl.cnf"];

/// Devices, and whether they may be written.
const DEVICES: &[(&str, bool)] =
    &[("/dev/null", true), ("/dev/zero", true), ("/dev/full", true), ("/dev/random", false), ("/dev/urandom", false)];

/// Restricts this process (and what it will run) to the jail's files.
pub(super) fn restrict(spec: &Spec, workspace: RawFd) -> Result<(), String> {
    let error = |e: landlock::RulesetError| format!("Landlock (ABI 6, Linux 6.12, is required): {e}");
    let all = AccessFs::from_all(REQUIRED);
    let read = AccessFs::from_read(REQUIRED);
    let read_only = AccessFs::ReadFile | AccessFs::ReadDir;
    let mut rules: Vec<(PathFd, BitFlags<AccessFs>)> = Vec::new();
    let mut allow = |path: &Path, access: BitFlags<AccessFs>| {
        // What this machine does not have is simply not granted.
        if let Ok(fd) = PathFd::new(path) {
            let access = if path.is_dir() { access } else { access & AccessFs::from_file(REQUIRED) };
            rules.push((fd, access));
        }
    };
    for folder in SYSTEM_FOLDERS {
        allow(Path::new(folder), read);
    }
    // A folder but its secrets is each of its entries but those: what is
    // added to it later is not granted.
    let mut allow_but = |folder: &Path, secrets: &[&str], access| {
        for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
            if !secrets.iter().any(|secret| entry.file_name() == *secret) {
                allow(&entry.path(), access);
            }
        }
    };
    for toolchain in &spec.toolchains {
        allow_but(toolchain, TOOLCHAIN_SECRETS, read);
    }
    allow_but(Path::new("/etc"), ETC_SECRETS, read_only);
    for public in ETC_PUBLIC {
        allow(Path::new(public), read_only);
    }
    allow(Path::new("/proc"), read_only);
    allow(Path::new("/sys/devices/system/cpu"), read_only);
    for (device, writable) in DEVICES {
        let access = match writable {
            true => AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev,
            false => AccessFs::ReadFile.into(),
        };
        allow(Path::new(device), access);
    }
    allow(&spec.temp, all);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(all)
        .and_then(|r| r.scope(Scope::from_all(REQUIRED)))
        .and_then(|r| r.create())
        .map_err(error)?;
    for (fd, access) in rules {
        ruleset = ruleset.add_rule(PathBeneath::new(fd, access)).map_err(error)?;
    }
    // SAFETY: the helper inherited this descriptor for the workspace and
    // keeps it open until the rule is made.
    let workspace = unsafe { BorrowedFd::borrow_raw(workspace) };
    let access = if spec.writable { all } else { read };
    ruleset = ruleset.add_rule(PathBeneath::new(workspace, access)).map_err(error)?;
    let status = ruleset.restrict_self().map_err(error)?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok(()),
        _ => Err("Landlock is not fully enforced by this kernel".into()),
    }
}
