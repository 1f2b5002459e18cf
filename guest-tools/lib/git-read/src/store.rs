//! The object store: loose objects (`objects/ab/cdef...`, zlib), the packs
//! beside them, and the stores `objects/info/alternates` names.

use crate::pack::Pack;
use crate::{Error, Kind, Oid, Result, corrupt, read_optional};
use flate2::read::ZlibDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How deep alternates may chain (git allows five).
const MAX_ALTERNATE_DEPTH: usize = 5;

pub(crate) struct Objects {
    /// Each store's `objects` folder, this repository's first.
    loose: Vec<PathBuf>,
    packs: Vec<Pack>,
    /// How many reads of bases named by id are under way (a pack whose
    /// deltas name each other in a circle must fail, not recurse forever).
    depth: std::cell::Cell<usize>,
}

/// How many bases named by id may nest.
const MAX_NAMED_DEPTH: usize = 64;

impl Objects {
    pub(crate) fn open(objects: &Path) -> Result<Objects> {
        let mut store = Objects { loose: Vec::new(), packs: Vec::new(), depth: Default::default() };
        store.add(objects.to_path_buf(), 0)?;
        Ok(store)
    }

    fn add(&mut self, objects: PathBuf, depth: usize) -> Result<()> {
        if depth > MAX_ALTERNATE_DEPTH || self.loose.contains(&objects) {
            return Ok(());
        }
        let pack_dir = objects.join("pack");
        if let Ok(entries) = std::fs::read_dir(&pack_dir) {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".idx"))
                .collect();
            names.sort();
            for name in names {
                let pack = pack_dir.join(name.replace(".idx", ".pack"));
                self.packs.push(Pack::open(&pack_dir.join(&name), pack)?);
            }
        }
        self.loose.push(objects.clone());
        if let Some(text) = read_optional(&objects.join("info/alternates"))? {
            for line in String::from_utf8_lossy(&text).lines() {
                let line = line.trim();
                if !line.is_empty() && !line.starts_with('#') {
                    self.add(objects.join(line), depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// An object's kind and content.
    pub(crate) fn read(&self, oid: Oid) -> Result<(Kind, Vec<u8>)> {
        for pack in &self.packs {
            if let Some(offset) = pack.find(oid) {
                return pack.read_at(offset, &|base| self.read_base(base));
            }
        }
        for dir in &self.loose {
            let hex = oid.to_string();
            let path = dir.join(&hex[..2]).join(&hex[2..]);
            if let Some(compressed) = read_optional(&path)? {
                return parse_loose(oid, &compressed);
            }
        }
        Err(Error::Missing(oid))
    }
}

impl Objects {
    fn read_base(&self, oid: Oid) -> Result<(Kind, Vec<u8>)> {
        if self.depth.get() >= MAX_NAMED_DEPTH {
            return corrupt(format!("deltas against {oid} nest too deep"));
        }
        self.depth.set(self.depth.get() + 1);
        let read = self.read(oid);
        self.depth.set(self.depth.get() - 1);
        read
    }
}

fn parse_loose(oid: Oid, compressed: &[u8]) -> Result<(Kind, Vec<u8>)> {
    let mut data = Vec::new();
    ZlibDecoder::new(compressed).read_to_end(&mut data).map_err(|e| Error::Corrupt(format!("object {oid}: {e}")))?;
    let Some(nul) = data.iter().position(|&b| b == 0) else { return corrupt(format!("object {oid} has no header")) };
    let header = &data[..nul];
    let Some(space) = header.iter().position(|&b| b == b' ') else { return corrupt(format!("object {oid}'s header")) };
    let kind = Kind::from_name(&header[..space]).ok_or_else(|| Error::Corrupt(format!("object {oid}'s kind")))?;
    let size: usize = std::str::from_utf8(&header[space + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Corrupt(format!("object {oid}'s size")))?;
    if data.len() - nul - 1 != size {
        return corrupt(format!("object {oid} is not the size its header says"));
    }
    data.drain(..=nul);
    Ok((kind, data))
}
