//! Docker's default seccomp profile, written as our own Rust table and compiled to classic BPF
//! for the container's init to load right before `execve`.
//!
//! Semantics follow moby/profiles `seccomp/default.json` (see reference/security.md §1):
//! anything not listed fails with EPERM; ~350 ordinary syscalls are allowed outright; a few more
//! only when the process keeps the capability that makes them useful (CAP_SYS_ADMIN for the mount
//! and namespace calls, CAP_SYS_MODULE for modules, ...); `clone` may not create namespaces
//! without CAP_SYS_ADMIN (CVE-2022-0492: `unshare -UrmC` then cgroup v1 `release_agent`);
//! `clone3` answers ENOSYS without CAP_SYS_ADMIN, because its flags live in memory a filter
//! cannot read, and ENOSYS makes glibc and Go fall back to `clone`, which we can check;
//! `socket` refuses AF_ALG and AF_VSOCK; `personality` accepts only the harmless personas.
//! Absent on purpose: the keyring (`keyctl`, `add_key`, `request_key`: keys are not namespaced),
//! `kexec_*`, `userfaultfd` (race amplifier for kernel exploits), `io_uring_*` (bypasses
//! seccomp for the operations it performs), `pivot_root`, `swapon`, `uselib`, ...
//!
//! Cost. What makes loading a filter expensive is its length, not the syscalls it lets through:
//! at attach time the kernel translates the classic BPF to eBPF, JIT-compiles it, and runs it
//! once per syscall number to remember the numbers it allows whatever the arguments
//! (kernel/seccomp.c, `seccomp_cache_prepare`, Linux 5.11); those calls skip the BPF afterwards.
//! A linear chain of one comparison per syscall (what seccompiler emits, ~1,600 instructions)
//! took ~0.6 ms to load here. `compile` instead builds a binary search over runs of numbers with
//! the same verdict: ~150 instructions, ~10 evaluated per call, loaded in ~50 µs and compiled in
//! ~2 µs (so nothing is cached). A test checks that it decides every syscall number, with a
//! range of first arguments, exactly as the linear chain does.

use anyhow::{Context, Result};
use caps::Capability;
use seccompiler::BpfProgram;

/// `clone` flags that create namespaces: NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID
/// | NEWNET, i.e. Docker's 0x7E020000 (clone(2)).
pub const NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// Personas a container may switch to: PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26,
/// and 0xffffffff, which only queries the current one (personality(2)). The rest can, for
/// example, turn off ASLR (ADDR_NO_RANDOMIZE) or make data executable (READ_IMPLIES_EXEC).
const ALLOWED_PERSONAS: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// AF_ALG exposes the kernel crypto API, a recurring source of kernel bugs; AF_VSOCK talks to
/// the hypervisor, i.e. outside the container's network namespace.
const DENIED_SOCKET_FAMILIES: [u64; 2] = [libc::AF_ALG as u64, libc::AF_VSOCK as u64];

/// Compile the default profile for a process holding `caps` (its bounding set after the drop).
#[allow(dead_code)] // called by the container init once the runtime lands
pub fn default_filter(caps: &[Capability]) -> Result<BpfProgram> {
    compile(caps)
}

/// Install `filter` on the calling thread. The container init is single-threaded at this point.
/// seccompiler sets `no_new_privs` itself (seccomp(2) demands it of a process without
/// CAP_SYS_ADMIN); the caller has already set it, so this changes nothing.
#[allow(dead_code)] // called by the container init once the runtime lands
pub fn install(filter: &BpfProgram) -> Result<()> {
    seccompiler::apply_filter(filter).context("load seccomp filter")
}

/// What the filter does with one syscall number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    /// EPERM, the profile's default.
    Deny,
    /// ENOSYS (`clone3` without CAP_SYS_ADMIN).
    NoSys,
    /// Allowed unless arg 0 sets a namespace flag.
    CloneNoNamespaces,
    /// Allowed unless arg 0 is a denied address family.
    SocketFamily,
    /// Allowed only for the harmless personas in arg 0.
    Persona,
}

/// The verdict for each syscall number from 0 up to the highest one the profile names; every
/// number above (x32 calls included) is denied.
#[cfg(target_arch = "x86_64")]
fn verdicts(caps: &[Capability]) -> Vec<Verdict> {
    let admin = caps.contains(&Capability::CAP_SYS_ADMIN);
    let mut allowed: Vec<i64> = table::ALLOWED.to_vec();
    for (cap, syscalls) in table::BY_CAPABILITY {
        if caps.contains(cap) {
            allowed.extend_from_slice(syscalls);
        }
    }
    let mut special = vec![
        (libc::SYS_socket, Verdict::SocketFamily),
        (libc::SYS_personality, Verdict::Persona),
    ];
    if !admin {
        special.push((libc::SYS_clone, Verdict::CloneNoNamespaces));
        special.push((libc::SYS_clone3, Verdict::NoSys));
    }
    let max = allowed
        .iter()
        .chain(special.iter().map(|(nr, _)| nr))
        .copied()
        .max()
        .unwrap_or(0);
    let mut out = vec![Verdict::Deny; max as usize + 1];
    for nr in allowed {
        out[nr as usize] = Verdict::Allow;
    }
    for (nr, verdict) in special {
        out[nr as usize] = verdict;
    }
    out
}

/// Classic BPF, from linux/filter.h, linux/bpf_common.h and linux/seccomp.h.
#[cfg(target_arch = "x86_64")]
mod bpf {
    pub use seccompiler::sock_filter as Insn;
    pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
    pub const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    pub const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    pub const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E; // EM_X86_64 | __AUDIT_ARCH_64BIT | _LE
    pub const DATA_NR: u32 = 0; // offsetof(struct seccomp_data, nr)
    pub const DATA_ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)
    /// The low 32 bits of args[0] (little endian).
    pub const DATA_ARG0_LO: u32 = 16;
    pub const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    pub const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    pub const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    pub const RET_KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;

    pub fn op(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }
    pub fn ret(k: u32) -> Insn {
        op(RET_K, 0, 0, k)
    }
}

/// Compile the profile: check the architecture, then find the syscall number by binary search
/// over runs of numbers with the same verdict. A few dozen runs cover the whole table, so the
/// program is ~200 instructions and any syscall passes through ~10 of them. (A linear chain of
/// one comparison per syscall, ~1,600 instructions, made loading the filter cost ~0.5 ms: the
/// kernel translates, JIT-compiles and, for its per-syscall cache, emulates the whole program.)
#[cfg(target_arch = "x86_64")]
fn compile(caps: &[Capability]) -> Result<BpfProgram> {
    use bpf::*;
    let verdicts = verdicts(caps);
    // Runs of equal verdicts: (first number, verdict); the last run covers every higher number.
    let mut runs: Vec<(u32, Verdict)> = Vec::new();
    for (nr, &v) in verdicts.iter().enumerate() {
        if runs.last().is_none_or(|&(_, last)| last != v) {
            runs.push((nr as u32, v));
        }
    }
    if runs.last().is_none_or(|&(_, last)| last != Verdict::Deny) {
        runs.push((verdicts.len() as u32, Verdict::Deny));
    }
    // Foreign architectures: i386 calls (`int 0x80`, 32-bit binaries) have numbers that mean
    // other syscalls. Docker allows i386 with its own table; we kill instead: a process whose
    // every syscall, `exit` included, failed with EPERM would only spin, while SIGSYS is a
    // clear, immediate death. x32 calls arrive as AUDIT_ARCH_X86_64 with bit 30 set in the
    // number, above every number in the table: denied.
    let mut program = vec![
        op(LD_W_ABS, 0, 0, DATA_ARCH),
        op(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        ret(RET_KILL_PROCESS),
        op(LD_W_ABS, 0, 0, DATA_NR),
    ];
    program.extend(search(&runs));
    anyhow::ensure!(
        program.len() < 4096,
        "seccomp program too long: {}",
        program.len()
    );
    Ok(program)
}

/// The decision tree over `runs` (sorted, non-empty), with the syscall number in A.
#[cfg(target_arch = "x86_64")]
fn search(runs: &[(u32, Verdict)]) -> Vec<bpf::Insn> {
    use bpf::*;
    if let [(_, verdict)] = runs {
        return leaf(*verdict);
    }
    let mid = runs.len() / 2;
    let below = search(&runs[..mid]);
    let above = search(&runs[mid..]);
    let mut out = Vec::with_capacity(below.len() + above.len() + 2);
    match u8::try_from(below.len()) {
        // A >= first number of the upper half: skip the lower half's code.
        Ok(skip) => out.push(op(JGE_K, skip, 0, runs[mid].0)),
        Err(_) => {
            out.push(op(JGE_K, 0, 1, runs[mid].0));
            out.push(op(JA, 0, 0, below.len() as u32));
        }
    }
    out.extend(below);
    out.extend(above);
    out
}

/// The code for one verdict (arguments are compared on their low 32 bits, as the kernel reads
/// these `int` arguments: junk in the high half cannot slip a value past the filter).
#[cfg(target_arch = "x86_64")]
fn leaf(verdict: Verdict) -> Vec<bpf::Insn> {
    use bpf::*;
    let load_arg0 = op(LD_W_ABS, 0, 0, DATA_ARG0_LO);
    match verdict {
        Verdict::Allow => vec![ret(RET_ALLOW)],
        Verdict::Deny => vec![ret(RET_EPERM)],
        Verdict::NoSys => vec![ret(RET_ENOSYS)],
        Verdict::CloneNoNamespaces => vec![
            load_arg0,
            op(JSET_K, 1, 0, NAMESPACE_FLAGS as u32),
            ret(RET_ALLOW),
            ret(RET_EPERM),
        ],
        Verdict::SocketFamily => arg0_in(&DENIED_SOCKET_FAMILIES, RET_EPERM, RET_ALLOW),
        Verdict::Persona => arg0_in(&ALLOWED_PERSONAS, RET_ALLOW, RET_EPERM),
    }
}

/// Return `if_in` when args[0] (its low 32 bits) is one of `values`, else `otherwise`.
#[cfg(target_arch = "x86_64")]
fn arg0_in(values: &[u64], if_in: u32, otherwise: u32) -> Vec<bpf::Insn> {
    use bpf::*;
    let mut code = vec![op(LD_W_ABS, 0, 0, DATA_ARG0_LO)];
    let n = values.len();
    for (i, &value) in values.iter().enumerate() {
        // Match: jump over the remaining comparisons and the `otherwise` return.
        code.push(op(JEQ_K, (n - i) as u8, 0, value as u32));
    }
    code.push(ret(otherwise));
    code.push(ret(if_in));
    code
}

#[cfg(not(target_arch = "x86_64"))]
fn compile(_caps: &[Capability]) -> Result<BpfProgram> {
    anyhow::bail!(
        "no default seccomp profile for {} yet (only x86_64)",
        std::env::consts::ARCH
    )
}

/// The x86_64 syscall table of the profile. Numbers come from the libc crate, or from
/// arch/x86/entry/syscalls/syscall_64.tbl for calls newer than its table.
#[cfg(target_arch = "x86_64")]
mod table {
    use caps::Capability;
    use libc::*;

    const SYS_IO_PGETEVENTS: i64 = 333;
    const SYS_URETPROBE: i64 = 335;
    const SYS_CACHESTAT: i64 = 451;
    const SYS_MAP_SHADOW_STACK: i64 = 453;
    const SYS_FUTEX_WAKE: i64 = 454;
    const SYS_FUTEX_WAIT: i64 = 455;
    const SYS_FUTEX_REQUEUE: i64 = 456;
    const SYS_STATMOUNT: i64 = 457;
    const SYS_LISTMOUNT: i64 = 458;
    const SYS_LSM_GET_SELF_ATTR: i64 = 459;
    const SYS_LSM_SET_SELF_ATTR: i64 = 460;
    const SYS_LSM_LIST_MODULES: i64 = 461;
    const SYS_SETXATTRAT: i64 = 463;
    const SYS_GETXATTRAT: i64 = 464;
    const SYS_LISTXATTRAT: i64 = 465;
    const SYS_REMOVEXATTRAT: i64 = 466;

    /// Allowed whatever the capabilities. The kernel still applies its own permission checks
    /// (e.g. `mknod` needs CAP_MKNOD, `setuid` CAP_SETUID); the filter only removes attack
    /// surface no ordinary program needs.
    #[rustfmt::skip]
    pub const ALLOWED: &[i64] = &[
        // Files and directories.
        SYS_read, SYS_write, SYS_open, SYS_openat, SYS_openat2, SYS_close, SYS_close_range,
        SYS_creat, SYS_lseek, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_preadv,
        SYS_pwritev, SYS_preadv2, SYS_pwritev2, SYS_stat, SYS_fstat, SYS_lstat, SYS_newfstatat,
        SYS_statx, SYS_statfs, SYS_fstatfs, SYS_access, SYS_faccessat, SYS_faccessat2,
        SYS_getdents, SYS_getdents64, SYS_getcwd, SYS_chdir, SYS_fchdir, SYS_mkdir, SYS_mkdirat,
        SYS_rmdir, SYS_rename, SYS_renameat, SYS_renameat2, SYS_link, SYS_linkat, SYS_unlink,
        SYS_unlinkat, SYS_symlink, SYS_symlinkat, SYS_readlink, SYS_readlinkat, SYS_mknod,
        SYS_mknodat, SYS_chmod, SYS_fchmod, SYS_fchmodat, SYS_fchmodat2, SYS_chown, SYS_fchown,
        SYS_lchown, SYS_fchownat, SYS_umask, SYS_truncate, SYS_ftruncate, SYS_fallocate,
        SYS_fsync, SYS_fdatasync, SYS_sync, SYS_syncfs, SYS_sync_file_range, SYS_fadvise64,
        SYS_readahead, SYS_flock, SYS_fcntl, SYS_ioctl, SYS_dup, SYS_dup2, SYS_dup3, SYS_pipe,
        SYS_pipe2, SYS_splice, SYS_tee, SYS_vmsplice, SYS_sendfile, SYS_copy_file_range,
        SYS_utime, SYS_utimes, SYS_utimensat, SYS_futimesat, SYS_name_to_handle_at,
        SYS_CACHESTAT, SYS_STATMOUNT, SYS_LISTMOUNT,
        // Extended attributes.
        SYS_getxattr, SYS_lgetxattr, SYS_fgetxattr, SYS_setxattr, SYS_lsetxattr, SYS_fsetxattr,
        SYS_listxattr, SYS_llistxattr, SYS_flistxattr, SYS_removexattr, SYS_lremovexattr,
        SYS_fremovexattr, SYS_SETXATTRAT, SYS_GETXATTRAT, SYS_LISTXATTRAT, SYS_REMOVEXATTRAT,
        // Waiting for events.
        SYS_poll, SYS_ppoll, SYS_select, SYS_pselect6, SYS_epoll_create, SYS_epoll_create1,
        SYS_epoll_ctl, SYS_epoll_ctl_old, SYS_epoll_wait, SYS_epoll_wait_old, SYS_epoll_pwait,
        SYS_epoll_pwait2, SYS_eventfd, SYS_eventfd2, SYS_signalfd, SYS_signalfd4,
        SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime, SYS_inotify_init,
        SYS_inotify_init1, SYS_inotify_add_watch, SYS_inotify_rm_watch, SYS_fanotify_mark,
        // Asynchronous I/O (the old AIO interface; io_uring stays out).
        SYS_io_setup, SYS_io_destroy, SYS_io_submit, SYS_io_cancel, SYS_io_getevents,
        SYS_IO_PGETEVENTS, SYS_ioprio_get, SYS_ioprio_set,
        // Memory.
        SYS_brk, SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise, SYS_mincore,
        SYS_msync, SYS_mlock, SYS_mlock2, SYS_munlock, SYS_mlockall, SYS_munlockall,
        SYS_remap_file_pages, SYS_memfd_create, SYS_memfd_secret, SYS_membarrier,
        SYS_pkey_alloc, SYS_pkey_free, SYS_pkey_mprotect, SYS_mseal, SYS_MAP_SHADOW_STACK,
        // Processes and threads (`clone` is conditional, see `compile`).
        SYS_fork, SYS_vfork, SYS_execve, SYS_execveat, SYS_exit, SYS_exit_group, SYS_wait4,
        SYS_waitid, SYS_kill, SYS_tkill, SYS_tgkill, SYS_pidfd_open, SYS_pidfd_send_signal,
        SYS_process_mrelease, SYS_getpid, SYS_getppid, SYS_gettid, SYS_getpgid, SYS_setpgid,
        SYS_getpgrp, SYS_getsid, SYS_setsid, SYS_set_tid_address, SYS_set_robust_list,
        SYS_get_robust_list, SYS_rseq, SYS_arch_prctl, SYS_modify_ldt, SYS_set_thread_area,
        SYS_get_thread_area, SYS_prctl, SYS_seccomp, SYS_restart_syscall, SYS_URETPROBE,
        SYS_futex, SYS_futex_waitv, SYS_FUTEX_WAKE, SYS_FUTEX_WAIT, SYS_FUTEX_REQUEUE,
        SYS_landlock_create_ruleset, SYS_landlock_add_rule, SYS_landlock_restrict_self,
        // Docker allows these to everyone on kernels >= 4.8, where seccomp is re-checked after
        // a tracer rewrites a syscall, so tracing can no longer bypass the filter. berth needs a
        // newer kernel than that anyway (openat2: 5.6).
        SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
        // Credentials, capabilities and limits.
        SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid,
        SYS_getgroups, SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid,
        SYS_setresgid, SYS_setfsuid, SYS_setfsgid, SYS_setgroups, SYS_capget, SYS_capset,
        SYS_getrlimit, SYS_setrlimit, SYS_prlimit64, SYS_getrusage, SYS_getpriority,
        SYS_setpriority,
        // Scheduling.
        SYS_sched_yield, SYS_sched_getaffinity, SYS_sched_setaffinity, SYS_sched_getattr,
        SYS_sched_setattr, SYS_sched_getparam, SYS_sched_setparam, SYS_sched_getscheduler,
        SYS_sched_setscheduler, SYS_sched_get_priority_max, SYS_sched_get_priority_min,
        SYS_sched_rr_get_interval, SYS_getcpu,
        // Signals.
        SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_rt_sigpending,
        SYS_rt_sigsuspend, SYS_rt_sigtimedwait, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo,
        SYS_sigaltstack, SYS_pause,
        // Time and timers (setting the clock is CAP_SYS_TIME's; adjtimex and clock_adjtime
        // only read unless the kernel sees that capability).
        SYS_time, SYS_gettimeofday, SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep,
        SYS_nanosleep, SYS_adjtimex, SYS_clock_adjtime, SYS_alarm, SYS_getitimer,
        SYS_setitimer, SYS_timer_create, SYS_timer_delete, SYS_timer_settime,
        SYS_timer_gettime, SYS_timer_getoverrun, SYS_times,
        // Sockets (`socket` itself is conditional, see `compile`).
        SYS_socketpair, SYS_bind, SYS_connect, SYS_listen, SYS_accept, SYS_accept4,
        SYS_getsockname, SYS_getpeername, SYS_getsockopt, SYS_setsockopt, SYS_sendto,
        SYS_recvfrom, SYS_sendmsg, SYS_recvmsg, SYS_sendmmsg, SYS_recvmmsg, SYS_shutdown,
        // System V and POSIX IPC (namespaced by the IPC namespace).
        SYS_shmget, SYS_shmat, SYS_shmdt, SYS_shmctl, SYS_semget, SYS_semop, SYS_semtimedop,
        SYS_semctl, SYS_msgget, SYS_msgsnd, SYS_msgrcv, SYS_msgctl, SYS_mq_open, SYS_mq_unlink,
        SYS_mq_timedsend, SYS_mq_timedreceive, SYS_mq_notify, SYS_mq_getsetattr,
        // System information.
        SYS_uname, SYS_sysinfo, SYS_getrandom,
    ];

    /// Allowed only to a process that holds the capability. Without it most would fail anyway;
    /// the filter keeps their kernel code out of reach altogether.
    #[rustfmt::skip]
    pub const BY_CAPABILITY: &[(Capability, &[i64])] = &[
        (
            Capability::CAP_SYS_ADMIN,
            &[
                SYS_mount, SYS_umount2, SYS_mount_setattr, SYS_move_mount, SYS_open_tree,
                SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_unshare, SYS_setns,
                SYS_clone, SYS_clone3, SYS_bpf, SYS_perf_event_open, SYS_fanotify_init,
                SYS_lookup_dcookie, SYS_quotactl, SYS_quotactl_fd, SYS_sethostname,
                SYS_setdomainname, SYS_syslog, SYS_LSM_GET_SELF_ATTR, SYS_LSM_SET_SELF_ATTR,
                SYS_LSM_LIST_MODULES,
            ],
        ),
        (
            Capability::CAP_SYS_PTRACE,
            &[SYS_kcmp, SYS_pidfd_getfd, SYS_process_madvise],
        ),
        (Capability::CAP_SYS_MODULE, &[SYS_init_module, SYS_finit_module, SYS_delete_module]),
        (Capability::CAP_SYS_BOOT, &[SYS_reboot]),
        (Capability::CAP_SYS_CHROOT, &[SYS_chroot]),
        (Capability::CAP_SYS_PACCT, &[SYS_acct]),
        (Capability::CAP_SYS_RAWIO, &[SYS_iopl, SYS_ioperm]),
        (Capability::CAP_SYS_TIME, &[SYS_settimeofday, SYS_clock_settime]),
        (Capability::CAP_SYS_TTY_CONFIG, &[SYS_vhangup]),
        (Capability::CAP_DAC_READ_SEARCH, &[SYS_open_by_handle_at]),
        (
            Capability::CAP_SYS_NICE,
            &[SYS_mbind, SYS_get_mempolicy, SYS_set_mempolicy, SYS_set_mempolicy_home_node],
        ),
        (Capability::CAP_SYSLOG, &[SYS_syslog]),
        (Capability::CAP_BPF, &[SYS_bpf]),
        (Capability::CAP_PERFMON, &[SYS_perf_event_open]),
    ];
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    //! The filter is checked by loading it for real: the test binary re-runs itself with
    //! `--exact container::seccomp::tests::probe` and a mode in `BERTH_SECCOMP_PROBE`; that child
    //! installs the filter on its thread, tries each syscall and prints one `probe NAME ERRNO`
    //! line per call (0 = allowed). A fresh process keeps the filter away from other tests.

    use super::*;
    use crate::sys::seccomp_probe;
    use nix::errno::Errno;
    use std::collections::HashMap;
    use std::time::Instant;
    use Capability::*;

    const PROBE_ENV: &str = "BERTH_SECCOMP_PROBE";

    /// Docker's default capability set (moby daemon/pkg/oci/caps/defaults.go).
    const DOCKER_CAPS: &[Capability] = &[
        CAP_CHOWN,
        CAP_DAC_OVERRIDE,
        CAP_FSETID,
        CAP_FOWNER,
        CAP_MKNOD,
        CAP_NET_RAW,
        CAP_SETGID,
        CAP_SETUID,
        CAP_SETFCAP,
        CAP_SETPCAP,
        CAP_NET_BIND_SERVICE,
        CAP_SYS_CHROOT,
        CAP_KILL,
        CAP_AUDIT_WRITE,
    ];

    fn errno_of<T>(r: nix::Result<T>) -> i32 {
        match r {
            Ok(_) => 0,
            Err(e) => e as i32,
        }
    }

    /// A named syscall attempt: 0 when the call went through, else its errno.
    type Probe = (&'static str, fn() -> i32);

    fn probes() -> Vec<Probe> {
        use nix::mount::{mount, MsFlags};
        use nix::sched::{unshare, CloneFlags};
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
        fn sock(family: AddressFamily, ty: SockType) -> i32 {
            errno_of(socket(family, ty, SockFlag::SOCK_CLOEXEC, None))
        }
        vec![
            ("getpid", || (nix::unistd::getpid().as_raw() <= 0) as i32),
            ("unshare_newns", || {
                errno_of(unshare(CloneFlags::CLONE_NEWNS))
            }),
            ("mount", || {
                let target = "/nonexistent-berth-seccomp-probe";
                let none = None::<&str>;
                errno_of(mount(
                    Some("none"),
                    target,
                    Some("tmpfs"),
                    MsFlags::empty(),
                    none,
                ))
            }),
            ("keyctl", || {
                errno_of(seccomp_probe::keyctl_get_session_keyring())
            }),
            ("socket_vsock", || {
                sock(AddressFamily::Vsock, SockType::Stream)
            }),
            ("socket_alg", || {
                sock(AddressFamily::Alg, SockType::SeqPacket)
            }),
            ("socket_inet", || {
                sock(AddressFamily::Inet, SockType::Stream)
            }),
            ("socket_unix", || {
                sock(AddressFamily::Unix, SockType::Stream)
            }),
            ("clone3", || errno_of(seccomp_probe::clone3_empty())),
            ("clone_newuser", || {
                errno_of(seccomp_probe::clone_newuser_invalid())
            }),
            // fork + exec through std: glibc tries clone3 first and falls back to clone on ENOSYS.
            ("spawn", || {
                match std::process::Command::new("/bin/sh")
                    .args(["-c", "exit 7"])
                    .status()
                {
                    Ok(status) if status.code() == Some(7) => 0,
                    Ok(_) => 255,
                    Err(e) => e.raw_os_error().unwrap_or(255),
                }
            }),
            ("personality_query", || {
                errno_of(seccomp_probe::personality(0xffff_ffff))
            }),
            // ADDR_NO_RANDOMIZE.
            ("personality_no_aslr", || {
                errno_of(seccomp_probe::personality(0x0040000))
            }),
        ]
    }

    #[test]
    #[ignore = "helper: run in a child process by the filter_* tests"]
    fn probe() {
        let mode = std::env::var(PROBE_ENV).expect("probe runs only under the filter_* tests");
        let caps: Vec<Capability> = match mode.as_str() {
            "none" => Vec::new(),
            "docker" => DOCKER_CAPS.to_vec(),
            "docker+admin" => [DOCKER_CAPS, &[CAP_SYS_ADMIN]].concat(),
            other => panic!("unknown probe mode {other}"),
        };
        let probes = probes();
        // libtest has printed "test ... " without a newline.
        let mut out = String::from("\n");
        if mode != "none" {
            let filter = default_filter(&caps).unwrap();
            let start = Instant::now();
            install(&filter).unwrap();
            out.push_str(&format!("install took {:?}\n", start.elapsed()));
        }
        for (name, probe) in probes {
            out.push_str(&format!("probe {name} {}\n", probe()));
        }
        print!("{out}");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        // Leave before libtest does anything else under the filter.
        std::process::exit(0);
    }

    fn run_probe(mode: &str) -> HashMap<String, i32> {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args(["--ignored", "--exact", "container::seccomp::tests::probe"])
            .args(["--nocapture", "--test-threads=1"])
            .env(PROBE_ENV, mode)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if let Some(line) = stdout.lines().find(|l| l.starts_with("install took")) {
            println!("{mode}: {line}");
        }
        let results: HashMap<String, i32> = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("probe "))
            .filter_map(|rest| rest.split_once(' '))
            .map(|(name, errno)| (name.to_string(), errno.parse().unwrap()))
            .collect();
        assert_eq!(
            results.len(),
            probes().len(),
            "probe child ({mode}) failed: {out:?}"
        );
        results
    }

    fn check(results: &HashMap<String, i32>, expected: &[(&str, i32)]) {
        for &(name, errno) in expected {
            assert_eq!(
                results[name],
                errno,
                "{name}: expected {}, got {}",
                Errno::from_raw(errno),
                Errno::from_raw(results[name])
            );
        }
    }

    const OK: i32 = 0;
    const EPERM: i32 = Errno::EPERM as i32;

    #[test]
    fn filter_without_sys_admin_matches_docker_default() {
        assert!(nix::unistd::geteuid().is_root(), "seccomp tests need root");
        let results = run_probe("docker");
        check(
            &results,
            &[
                ("getpid", OK),
                ("unshare_newns", EPERM),
                ("mount", EPERM),
                ("keyctl", EPERM),
                ("socket_vsock", EPERM),
                ("socket_alg", EPERM),
                ("socket_inet", OK),
                ("socket_unix", OK),
                ("clone3", Errno::ENOSYS as i32),
                ("clone_newuser", EPERM),
                ("spawn", OK),
                ("personality_query", OK),
                ("personality_no_aslr", EPERM),
            ],
        );
    }

    #[test]
    fn filter_with_sys_admin_allows_namespaces_and_mounts() {
        assert!(nix::unistd::geteuid().is_root(), "seccomp tests need root");
        let results = run_probe("docker+admin");
        check(
            &results,
            &[
                ("getpid", OK),
                ("unshare_newns", OK),
                ("mount", Errno::ENOENT as i32),
                ("keyctl", EPERM),
                ("socket_vsock", EPERM),
                ("clone3", Errno::EINVAL as i32),
                ("clone_newuser", Errno::EINVAL as i32),
                ("spawn", OK),
                ("personality_no_aslr", EPERM),
            ],
        );
    }

    /// The probes themselves must reach the kernel when nothing filters them; otherwise an
    /// EPERM above could come from somewhere else than our filter.
    #[test]
    fn probes_reach_the_kernel_without_filter() {
        assert!(nix::unistd::geteuid().is_root(), "seccomp tests need root");
        let results = run_probe("none");
        check(
            &results,
            &[
                ("unshare_newns", OK),
                ("mount", Errno::ENOENT as i32),
                ("clone3", Errno::EINVAL as i32),
                ("clone_newuser", Errno::EINVAL as i32),
                ("socket_inet", OK),
                ("personality_no_aslr", OK),
            ],
        );
        assert_ne!(results["keyctl"], EPERM);
        assert_ne!(results["socket_vsock"], EPERM);
        assert_ne!(results["socket_alg"], EPERM);
    }

    /// The profile as a linear chain built by seccompiler: one comparison per syscall, easy to
    /// check by reading. The compiled program must decide every call as this one does.
    fn reference_program(caps: &[Capability]) -> Result<BpfProgram> {
        use seccompiler::{
            SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
            SeccompRule, TargetArch,
        };
        use std::collections::BTreeMap;

        // Every argument we look at is an `int` or `unsigned int` to the kernel, so compare only
        // the low 32 bits, as the kernel does: junk in the high half cannot slip a value past us.
        let cond = |op, value| SeccompCondition::new(0, SeccompCmpArgLen::Dword, op, value);
        let admin = caps.contains(&Capability::CAP_SYS_ADMIN);

        // An empty rule list means "allowed whatever the arguments".
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for &nr in super::table::ALLOWED {
            rules.insert(nr, Vec::new());
        }
        for (cap, syscalls) in super::table::BY_CAPABILITY {
            if caps.contains(cap) {
                for &nr in *syscalls {
                    rules.insert(nr, Vec::new());
                }
            }
        }
        if !admin {
            let no_namespaces = cond(SeccompCmpOp::MaskedEq(NAMESPACE_FLAGS), 0)?;
            rules.insert(
                libc::SYS_clone,
                vec![SeccompRule::new(vec![no_namespaces])?],
            );
        }
        let family_ok = DENIED_SOCKET_FAMILIES
            .iter()
            .map(|&family| cond(SeccompCmpOp::Ne, family))
            .collect::<Result<Vec<_>, _>>()?;
        rules.insert(libc::SYS_socket, vec![SeccompRule::new(family_ok)?]);
        let personas = ALLOWED_PERSONAS
            .iter()
            .map(|&persona| SeccompRule::new(vec![cond(SeccompCmpOp::Eq, persona)?]))
            .collect::<Result<Vec<_>, _>>()?;
        rules.insert(libc::SYS_personality, personas);

        // Foreign architectures: seccompiler's prologue compares `seccomp_data.arch` with
        // AUDIT_ARCH_X86_64 and answers anything else with SECCOMP_RET_KILL_PROCESS. That catches
        // i386 calls (`int 0x80`, 32-bit binaries), whose numbers mean different syscalls. Docker
        // allows i386 with its own table; we kill instead: a process whose every syscall, including
        // `exit`, fails with EPERM would only spin, while SIGSYS is a clear, immediate death.
        // x32 calls arrive as AUDIT_ARCH_X86_64 with bit 30 set in the number; no entry matches
        // those numbers, so they get the default EPERM.
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Errno(libc::EPERM as u32),
            SeccompAction::Allow,
            TargetArch::x86_64,
        )?;
        let body: BpfProgram = filter.try_into()?;

        if admin {
            return Ok(body);
        }
        // A filter has one action for "matched" and one for "not matched", so clone3's ENOSYS is a
        // short prologue in front of seccompiler's program (whose jumps are all relative and stay
        // valid): if x86_64 and clone3, return ENOSYS; otherwise fall through into `body`.
        let mut program = clone3_enosys_prologue();
        program.extend(body);
        Ok(program)
    }

    /// `ld arch; jne X86_64 -> body; ld nr; jne clone3 -> body; ret ERRNO(ENOSYS)`.
    fn clone3_enosys_prologue() -> BpfProgram {
        use seccompiler::sock_filter;
        // linux/filter.h and linux/seccomp.h.
        const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
        const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
        const RET_K: u16 = 0x06; // BPF_RET | BPF_K
        const AUDIT_ARCH_X86_64: u32 = 0xC000_003E; // EM_X86_64 | __AUDIT_ARCH_64BIT | _LE
        const DATA_NR: u32 = 0; // offsetof(struct seccomp_data, nr)
        const DATA_ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)
        let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
        vec![
            op(LD_W_ABS, 0, 0, DATA_ARCH),
            op(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
            op(LD_W_ABS, 0, 0, DATA_NR),
            op(JEQ_K, 0, 1, libc::SYS_clone3 as u32),
            op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        ]
    }

    /// A classic BPF interpreter for what the two programs use: the verdict of `program` for a
    /// call with this architecture, number and first argument.
    fn run_bpf(program: &[seccompiler::sock_filter], arch: u32, nr: u32, arg0: u64) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        data[16..24].copy_from_slice(&arg0.to_ne_bytes());
        let word = |off: u32| {
            let off = off as usize;
            u32::from_ne_bytes(data[off..off + 4].try_into().unwrap())
        };
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let insn = &program[pc];
            let k = insn.k;
            let jump = |taken: bool| {
                pc + 1
                    + if taken {
                        insn.jt as usize
                    } else {
                        insn.jf as usize
                    }
            };
            pc = match insn.code {
                0x20 => {
                    a = word(k);
                    pc + 1
                }
                0x54 => {
                    a &= k;
                    pc + 1
                }
                0x05 => pc + 1 + k as usize,
                0x15 => jump(a == k),
                0x25 => jump(a > k),
                0x35 => jump(a >= k),
                0x45 => jump(a & k != 0),
                0x06 => return k,
                other => panic!("instruction {other:#x} not interpreted"),
            };
        }
    }

    #[test]
    fn compiled_program_decides_like_the_linear_chain() {
        const I386: u32 = 0x4000_0003;
        let args: Vec<u64> = [
            0u64,
            1,
            2,
            8,
            0x11, // SIGCHLD
            0x2_0000,
            0x2_0008,
            0x4_0000,
            0xffff_ffff,
            0x1_0000_0000,
            0xdead_0000_0000_0026,
            libc::AF_ALG as u64,
            libc::AF_VSOCK as u64,
            libc::AF_INET as u64,
            (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64,
            (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64,
        ]
        .into_iter()
        .chain((0..32).map(|bit| 1u64 << bit))
        .collect();
        let numbers: Vec<u32> = (0..1024)
            .chain((0..1024).map(|nr| 0x4000_0000 | nr))
            .chain([0x7fff_ffff, 0x8000_0000, u32::MAX])
            .collect();
        for caps in [
            &[][..],
            DOCKER_CAPS,
            &[DOCKER_CAPS, &[CAP_SYS_ADMIN]].concat(),
            &[
                CAP_SYS_ADMIN,
                CAP_SYS_PTRACE,
                CAP_SYS_NICE,
                CAP_BPF,
                CAP_SYSLOG,
            ],
            &caps::all().into_iter().collect::<Vec<_>>(),
        ] {
            let ours = default_filter(caps).unwrap();
            let reference = reference_program(caps).unwrap();
            assert!(
                ours.len() * 4 < reference.len(),
                "{} instructions",
                ours.len()
            );
            for arch in [bpf::AUDIT_ARCH_X86_64, I386] {
                for &nr in &numbers {
                    for &arg in &args {
                        assert_eq!(
                            run_bpf(&ours, arch, nr, arg),
                            run_bpf(&reference, arch, nr, arg),
                            "caps {caps:?}, arch {arch:#x}, nr {nr}, arg0 {arg:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn program_fits_the_kernel_limit() {
        // BPF_MAXINSNS (include/uapi/linux/bpf_common.h).
        for caps in [
            &[][..],
            DOCKER_CAPS,
            &[CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_NICE],
        ] {
            let len = default_filter(caps).unwrap().len();
            assert!(len < 4096, "{len} instructions");
        }
    }

    #[test]
    fn table_has_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for nr in table::ALLOWED {
            assert!(seen.insert(nr), "syscall {nr} listed twice");
        }
        for (_, syscalls) in table::BY_CAPABILITY {
            for nr in *syscalls {
                assert!(
                    !seen.contains(nr),
                    "gated syscall {nr} is also always allowed"
                );
            }
        }
    }

    /// Prints what compiling costs on every `berth run` (`cargo test -- --nocapture compile_time`).
    #[test]
    fn compile_time() {
        let runs = 200;
        let mut times: Vec<_> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let program = default_filter(DOCKER_CAPS).unwrap();
                let elapsed = start.elapsed();
                assert!(!program.is_empty());
                elapsed
            })
            .collect();
        times.sort();
        let len = default_filter(DOCKER_CAPS).unwrap().len();
        println!(
            "default_filter: median {:?}, min {:?}, max {:?} over {runs} runs; {len} instructions",
            times[runs / 2],
            times[0],
            times[runs - 1]
        );
    }
}
