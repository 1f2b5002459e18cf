//! The object formats a diff reads: commits (their tree, parents and time)
//! and trees (their entries).

use crate::{Oid, Result, corrupt};

/// What an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Commit,
    Tree,
    Blob,
    Tag,
}

impl Kind {
    /// The kind a loose object's header names.
    pub(crate) fn from_name(name: &[u8]) -> Option<Kind> {
        match name {
            b"commit" => Some(Kind::Commit),
            b"tree" => Some(Kind::Tree),
            b"blob" => Some(Kind::Blob),
            b"tag" => Some(Kind::Tag),
            _ => None,
        }
    }

    /// The kind a pack entry's type number names (deltas are not kinds).
    pub(crate) fn from_pack_type(number: u8) -> Option<Kind> {
        match number {
            1 => Some(Kind::Commit),
            2 => Some(Kind::Tree),
            3 => Some(Kind::Blob),
            4 => Some(Kind::Tag),
            _ => None,
        }
    }
}

/// What a diff needs of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    pub tree: Oid,
    pub parents: Vec<Oid>,
    /// The committer's time, in seconds since the epoch.
    pub time: i64,
}

impl Commit {
    pub(crate) fn parse(data: &[u8]) -> Result<Commit> {
        let (mut tree, mut parents, mut time) = (None, Vec::new(), 0);
        for line in data.split(|&b| b == b'\n') {
            if line.is_empty() {
                break;
            }
            let line = String::from_utf8_lossy(line);
            if let Some(hex) = line.strip_prefix("tree ") {
                tree = Oid::from_hex(hex);
            } else if let Some(hex) = line.strip_prefix("parent ") {
                parents.push(Oid::from_hex(hex).ok_or_else(|| crate::Error::Corrupt(format!("parent {hex}")))?);
            } else if let Some(who) = line.strip_prefix("committer ") {
                // `Name <mail> 1700000000 +0100`
                time = who.rsplit(' ').nth(1).and_then(|t| t.parse().ok()).unwrap_or(0);
            }
        }
        match tree {
            Some(tree) => Ok(Commit { tree, parents, time }),
            None => corrupt("a commit without a tree"),
        }
    }
}

/// One entry of a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// `0o100644`, `0o100755`, `0o120000` (a link), `0o040000` (a folder)
    /// or `0o160000` (a submodule).
    pub mode: u32,
    pub name: String,
    pub oid: Oid,
}

/// A tree's entries, each checked to be a name a checkout could write.
pub(crate) fn parse_tree(mut data: &[u8]) -> Result<Vec<TreeEntry>> {
    let mut entries = Vec::new();
    while !data.is_empty() {
        let Some(space) = data.iter().position(|&b| b == b' ') else { return corrupt("a tree entry without a mode") };
        let Some(nul) = data.iter().position(|&b| b == 0) else { return corrupt("a tree entry without a name") };
        if nul < space || data.len() < nul + 21 {
            return corrupt("a truncated tree entry");
        }
        let mode = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .ok_or_else(|| crate::Error::Corrupt("a tree entry's mode".into()))?;
        let name = String::from_utf8_lossy(&data[space + 1..nul]).into_owned();
        if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.eq_ignore_ascii_case(".git") {
            return corrupt(format!("a tree entry named {name:?}"));
        }
        let oid = Oid(data[nul + 1..nul + 21].try_into().expect("20 bytes"));
        entries.push(TreeEntry { mode, name, oid });
        data = &data[nul + 21..];
    }
    Ok(entries)
}
