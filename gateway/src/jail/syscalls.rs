//! The jail's seccomp filter: system calls a build or a test suite never
//! needs, refused with `EPERM` (so programs report an error rather than
//! die).
//!
//! Refused: debugging other processes (ptrace, process_vm_*), mounting and
//! changing roots, new namespaces (`unshare`, `setns`, `clone` with a
//! namespace flag; `clone3`, whose flags a filter cannot read, answers
//! `ENOSYS` so the C library falls back to `clone`), kernel keyrings, bpf,
//! perf, userfaultfd, io_uring (it would bypass this filter), modules,
//! kexec, reboot, swap, clocks, handles to files by number, and sockets
//! other than IPv4 and IPv6 (which reach only the jail's own loopback): no
//! unix sockets to the host's services, no netlink, no raw packets. A call
//! of another architecture (32-bit on x86_64) ends the process; x32 calls
//! are refused.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch, sock_filter,
};
use std::collections::BTreeMap;

/// Refused outright.
const REFUSED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_keyctl,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fanotify_init,
    libc::SYS_pidfd_getfd,
    libc::SYS_vhangup,
];

/// Namespace flags `clone` may not carry.
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
];

/// Installs the filter on this process (and what it will run).
pub(super) fn restrict() -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(error)?;
    let condition = |arg, op, value| SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(error);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = REFUSED.iter().map(|&call| (call, Vec::new())).collect();
    // `socket(domain, ...)` for any domain but IPv4 and IPv6.
    let other_domain = vec![
        condition(0, SeccompCmpOp::Ne, libc::AF_INET as u64)?,
        condition(0, SeccompCmpOp::Ne, libc::AF_INET6 as u64)?,
    ];
    rules.insert(libc::SYS_socket, vec![SeccompRule::new(other_domain).map_err(error)?]);
    let mut clone = Vec::new();
    for &flag in NAMESPACE_FLAGS {
        let flag = flag as u64;
        clone.push(SeccompRule::new(vec![condition(0, SeccompCmpOp::MaskedEq(flag), flag)?]).map_err(error)?);
    }
    rules.insert(libc::SYS_clone, clone);
    let refused: BpfProgram =
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch)
            .and_then(TryInto::try_into)
            .map_err(error)?;
    let clone3 = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    let clone3: BpfProgram =
        SeccompFilter::new(clone3, SeccompAction::Allow, SeccompAction::Errno(libc::ENOSYS as u32), arch)
            .and_then(TryInto::try_into)
            .map_err(error)?;
    for program in [refused, clone3, other_abis()] {
        seccompiler::apply_filter(&program).map_err(error)?;
    }
    Ok(())
}

fn error(e: impl std::fmt::Display) -> String {
    format!("seccomp: {e}")
}

/// x86_64's x32 calls share its architecture number but set bit 30 of the
/// call number: refuse them all, so none of the rules above is bypassed.
fn other_abis() -> BpfProgram {
    const LOAD_NR: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JUMP_GE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const X32_BIT: u32 = 0x4000_0000;
    let errno = u32::from(SeccompAction::Errno(libc::ENOSYS as u32));
    let allow = u32::from(SeccompAction::Allow);
    vec![
        sock_filter { code: LOAD_NR, jt: 0, jf: 0, k: 0 },
        sock_filter { code: JUMP_GE, jt: 0, jf: 1, k: X32_BIT },
        sock_filter { code: RETURN, jt: 0, jf: 0, k: errno },
        sock_filter { code: RETURN, jt: 0, jf: 0, k: allow },
    ]
}
