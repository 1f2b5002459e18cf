//! The index (`.git/index`, versions 2 to 4): which paths are tracked, the
//! blob each was staged as, and the file times and sizes git saw when it
//! last looked, so an unchanged file need not be read again.

use crate::{Error, Oid, Result, corrupt, read_optional};
use std::path::Path;

/// One tracked path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub path: String,
    pub oid: Oid,
    pub mode: u32,
    /// The file's modification time when staged: seconds, nanoseconds.
    pub mtime: (u32, u32),
    /// Its size when staged, truncated to 32 bits as git stores it.
    pub size: u32,
    /// Left out of the working tree on purpose (sparse checkout): never
    /// reported missing.
    pub skip_worktree: bool,
    /// Staged with `git add -N`: tracked, with no content yet.
    pub intent_to_add: bool,
}

/// The index, entries in path order (a conflicted path once).
#[derive(Clone, Debug, Default)]
pub struct Index {
    pub entries: Vec<IndexEntry>,
}

const SKIP_WORKTREE: u16 = 0x4000;
const INTENT_TO_ADD: u16 = 0x2000;

impl Index {
    /// The index in `git_dir`, empty when there is none.
    pub fn read(git_dir: &Path) -> Result<Index> {
        match read_optional(&git_dir.join("index"))? {
            Some(bytes) => Index::parse(&bytes),
            None => Ok(Index::default()),
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Index> {
        if bytes.len() < 12 || &bytes[..4] != b"DIRC" {
            return corrupt("the index has no DIRC header");
        }
        let version = be32(bytes, 4);
        if !(2..=4).contains(&version) {
            return Err(Error::Unsupported(format!("index version {version}")));
        }
        let count = be32(bytes, 8) as usize;
        let mut entries: Vec<IndexEntry> = Vec::with_capacity(count.min(1 << 20));
        let mut at = 12;
        let mut previous = Vec::new();
        for _ in 0..count {
            let start = at;
            let Some(fixed) = bytes.get(at..at + 62) else { return corrupt("a truncated index entry") };
            let flags = u16::from_be_bytes([fixed[60], fixed[61]]);
            at += 62;
            let extended = if version >= 3 && flags & 0x4000 != 0 {
                let Some(more) = bytes.get(at..at + 2) else { return corrupt("a truncated index entry") };
                at += 2;
                u16::from_be_bytes([more[0], more[1]])
            } else {
                0
            };
            let path = if version == 4 {
                let (strip, used) = offset_varint(&bytes[at..])?;
                at += used;
                let Some(nul) = bytes[at..].iter().position(|&b| b == 0) else { return corrupt("an index path") };
                let keep =
                    previous.len().checked_sub(strip as usize).ok_or_else(|| Error::Corrupt("an index path".into()))?;
                previous.truncate(keep);
                previous.extend_from_slice(&bytes[at..at + nul]);
                at += nul + 1;
                previous.clone()
            } else {
                let Some(nul) = bytes[at..].iter().position(|&b| b == 0) else { return corrupt("an index path") };
                let path = bytes[at..at + nul].to_vec();
                // Entries are padded with 1 to 8 NULs to a multiple of 8.
                at = start + (at - start + nul + 8) / 8 * 8;
                path
            };
            let mode = be32(fixed, 24);
            let stage = (flags >> 12) & 3;
            let path = String::from_utf8_lossy(&path).into_owned();
            if mode == 0o040000 || (stage > 1 && entries.last().is_some_and(|e| e.path == path)) {
                continue;
            }
            entries.push(IndexEntry {
                path,
                oid: Oid(fixed[40..60].try_into().expect("20 bytes")),
                mode,
                mtime: (be32(fixed, 8), be32(fixed, 12)),
                size: if stage == 0 { be32(fixed, 36) } else { u32::MAX },
                skip_worktree: extended & SKIP_WORKTREE != 0,
                intent_to_add: extended & INTENT_TO_ADD != 0,
            });
        }
        Ok(Index { entries })
    }
}

/// Git's offset varint (`7 bits, +1 per continuation`), used by index v4.
fn offset_varint(bytes: &[u8]) -> Result<(u64, usize)> {
    let mut used = 0;
    let mut next = || {
        let byte = bytes.get(used).copied();
        used += 1;
        byte.ok_or_else(|| Error::Corrupt("a truncated index path".into()))
    };
    let mut byte = next()?;
    let mut value = (byte & 0x7f) as u64;
    while byte & 0x80 != 0 {
        byte = next()?;
        value = value
            .checked_add(1)
            .and_then(|v| v.checked_mul(128))
            .ok_or_else(|| Error::Corrupt("an index path".into()))?
            | (byte & 0x7f) as u64;
    }
    Ok((value, used))
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}
