//! Which device nodes a container may use: Docker's default allow-list (moby's default spec,
//! runc's allowed devices), one list written two ways: the v1 devices controller's rules
//! (Documentation/admin-guide/cgroup-v1/devices.rst) and, for cgroup2, an eBPF program of type
//! BPF_PROG_TYPE_CGROUP_DEVICE (Documentation/admin-guide/cgroup-v2.rst, "Device controller").
//!
//! Everything else is denied wherever the node lives: a node made with mknod on a volume, a bind
//! mount or anything else mounted without nodev cannot be opened (`/dev/kmsg`, `/dev/loop0`,
//! a disk). Making a node (`m`) stays allowed, as in Docker: only opening it is refused.

use crate::sys::bpf::Insn;

/// Block or character device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Block,
    Char,
}

/// One allow rule; `None` is the `*` wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Any of MKNOD, READ, WRITE.
    pub access: u32,
}

/// The kernel's access bits (`BPF_DEVCG_ACC_*`, and the v1 rules' `m`, `r`, `w`).
pub const MKNOD: u32 = 1;
pub const READ: u32 = 2;
pub const WRITE: u32 = 4;
const RWM: u32 = MKNOD | READ | WRITE;

const fn rule(kind: Kind, major: Option<u32>, minor: Option<u32>, access: u32) -> Rule {
    Rule {
        kind,
        major,
        minor,
        access,
    }
}

const fn char_dev(major: u32, minor: u32) -> Rule {
    rule(Kind::Char, Some(major), Some(minor), RWM)
}

/// Docker's default allow-list: making any node, then using null, zero, full, random, urandom,
/// tty, console, ptmx, the pty slaves (136:*) and tun.
pub const DEFAULT_ALLOW: &[Rule] = &[
    rule(Kind::Char, None, None, MKNOD),
    rule(Kind::Block, None, None, MKNOD),
    char_dev(1, 3),
    char_dev(1, 5),
    char_dev(1, 7),
    char_dev(1, 8),
    char_dev(1, 9),
    char_dev(5, 0),
    char_dev(5, 1),
    char_dev(5, 2),
    rule(Kind::Char, Some(136), None, RWM),
    char_dev(10, 200),
];

impl Rule {
    /// The rule as a line for a v1 `devices.allow` file: `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        let mut access = String::new();
        for (bit, letter) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(letter);
            }
        }
        let kind = match self.kind {
            Kind::Block => 'b',
            Kind::Char => 'c',
        };
        format!(
            "{kind} {}:{} {access}",
            number(self.major),
            number(self.minor)
        )
    }
}

// eBPF encoding (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_REG: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV64_IMM: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const AND64_IMM: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH64_IMM: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const JNE_IMM: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// `struct bpf_cgroup_dev_ctx`: access_type (type in the low 16 bits, access in the high 16),
/// major, minor; each a u32.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;
/// `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

// Registers: R1 the context on entry, R0 the verdict; R2 the type, R3 the access asked for,
// R4 major, R5 minor, R6 scratch.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The device program for `rules`: returns 1 (allow) when one rule covers the device and every
/// access bit asked for, else 0 (deny).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut prog = vec![
        insn(LDX_MEM_W, R2, R1, CTX_ACCESS_TYPE, 0),
        insn(MOV64_REG, R3, R2, 0, 0),
        insn(AND64_IMM, R2, 0, 0, 0xffff),
        insn(RSH64_IMM, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, CTX_MAJOR, 0),
        insn(LDX_MEM_W, R5, R1, CTX_MINOR, 0),
    ];
    for rule in rules {
        prog.extend(rule_block(rule));
    }
    prog.push(insn(MOV64_IMM, R0, 0, 0, 0));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

/// One rule: a chain of "if this does not match, skip to the next rule" tests, then allow.
fn rule_block(rule: &Rule) -> Vec<Insn> {
    // Each test is (code, dst, imm) for a JNE, preceded by setup instructions where needed;
    // the jump offsets are filled in once the block's length is known.
    let kind = match rule.kind {
        Kind::Block => DEV_BLOCK,
        Kind::Char => DEV_CHAR,
    };
    let mut block = vec![insn(JNE_IMM, R2, 0, 0, kind)];
    // Access asked for beyond what the rule gives: (asked & !given) != 0.
    let denied = (!rule.access & RWM) as i32;
    if denied != 0 {
        block.push(insn(MOV64_REG, R6, R3, 0, 0));
        block.push(insn(AND64_IMM, R6, 0, 0, denied));
        block.push(insn(JNE_IMM, R6, 0, 0, 0));
    }
    if let Some(major) = rule.major {
        block.push(insn(JNE_IMM, R4, 0, 0, major as i32));
    }
    if let Some(minor) = rule.minor {
        block.push(insn(JNE_IMM, R5, 0, 0, minor as i32));
    }
    block.push(insn(MOV64_IMM, R0, 0, 0, 1));
    block.push(insn(EXIT, 0, 0, 0, 0));
    let len = block.len();
    for (i, ins) in block.iter_mut().enumerate() {
        if ins.code == JNE_IMM {
            // To the first instruction after this block (offsets count from the next one).
            ins.off = (len - i - 1) as i16;
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small interpreter of exactly the instructions [`program`] emits, so the verdicts can
    /// be checked without the kernel.
    fn run(prog: &[Insn], kind: i32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(kind as u32) | (access << 16), major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            let (dst, src) = ((ins.regs & 0xf) as usize, (ins.regs >> 4) as usize);
            pc += 1;
            match ins.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1);
                    r[dst] = u64::from(ctx[(ins.off / 4) as usize]);
                }
                MOV64_REG => r[dst] = r[src],
                MOV64_IMM => r[dst] = ins.imm as u64,
                AND64_IMM => r[dst] &= ins.imm as u64,
                RSH64_IMM => r[dst] >>= ins.imm,
                JNE_IMM => {
                    if r[dst] != ins.imm as u64 {
                        pc += ins.off as usize;
                    }
                }
                EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_default_program_allows_the_standard_devices_only() {
        let prog = program(DEFAULT_ALLOW);
        let allowed = |kind, access, major, minor| run(&prog, kind, access, major, minor) == 1;
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
        ] {
            assert!(
                allowed(DEV_CHAR, READ | WRITE, major, minor),
                "{major}:{minor}"
            );
        }
        assert!(allowed(DEV_CHAR, READ | WRITE, 136, 0));
        assert!(allowed(DEV_CHAR, READ, 136, 99));
        assert!(allowed(DEV_CHAR, READ | WRITE, 10, 200));
        // mknod of anything, use of nothing else.
        assert!(allowed(DEV_CHAR, MKNOD, 1, 11));
        assert!(allowed(DEV_BLOCK, MKNOD, 7, 0));
        assert!(!allowed(DEV_CHAR, WRITE, 1, 11), "/dev/kmsg");
        assert!(!allowed(DEV_CHAR, READ, 1, 1), "/dev/mem");
        assert!(!allowed(DEV_BLOCK, READ, 7, 0), "/dev/loop0");
        assert!(!allowed(DEV_BLOCK, READ | WRITE, 8, 0), "/dev/sda");
        assert!(
            !allowed(DEV_BLOCK, READ, 1, 3),
            "block 1:3 is not /dev/null"
        );
        assert!(!allowed(DEV_CHAR, READ, 10, 229), "/dev/fuse");
        assert!(!allowed(DEV_CHAR, READ | MKNOD, 1, 11));
    }

    #[test]
    fn v1_lines() {
        let lines: Vec<String> = DEFAULT_ALLOW.iter().map(Rule::v1_line).collect();
        assert_eq!(lines[0], "c *:* m");
        assert_eq!(lines[1], "b *:* m");
        assert_eq!(lines[2], "c 1:3 rwm");
        assert_eq!(lines[10], "c 136:* rwm");
    }
}
