//! Packfiles: the version 2 index that finds an object's offset, and the
//! pack entries themselves, whole or as deltas against another object
//! (by offset in the same pack or by name), resolved into full objects.
//!
//! Bases met on the way are kept in a small cache, since a diff reads the
//! trees of one commit whose deltas share bases.

use crate::{Error, Kind, Oid, Result, corrupt, read_file};
use flate2::bufread::ZlibDecoder;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The longest delta chain followed (git's own packs stay under 4,096).
const MAX_CHAIN: usize = 10_000;
/// The bytes of resolved objects the cache keeps before it is emptied.
const CACHE_BYTES: usize = 32 << 20;
/// The largest object a pack entry may claim to inflate to.
const MAX_OBJECT: u64 = 1 << 30;

const OFS_DELTA: u8 = 6;
const REF_DELTA: u8 = 7;

pub(crate) struct Pack {
    idx: Vec<u8>,
    count: usize,
    path: PathBuf,
    file: RefCell<Option<BufReader<File>>>,
    cache: RefCell<Cache>,
}

/// Objects resolved from this pack, by entry offset, and their total size.
#[derive(Default)]
struct Cache {
    objects: HashMap<u64, (Kind, Vec<u8>)>,
    bytes: usize,
}

/// A pack entry's header: what it is, and where its data starts.
enum Entry {
    Whole(Kind),
    OffsetDelta(u64),
    NamedDelta(Oid),
}

impl Pack {
    pub(crate) fn open(idx_path: &Path, path: PathBuf) -> Result<Pack> {
        let idx = read_file(idx_path)?;
        if idx.len() < 8 + 1024 || idx[..4] != [0xff, b't', b'O', b'c'] || idx[4..8] != [0, 0, 0, 2] {
            return Err(Error::Unsupported(format!("{}: not a version 2 pack index", idx_path.display())));
        }
        let count = be32(&idx, 8 + 255 * 4) as usize;
        if idx.len() < 8 + 1024 + count * 28 + 40 {
            return corrupt(format!("{}: shorter than its object count", idx_path.display()));
        }
        Ok(Pack { idx, count, path, file: RefCell::new(None), cache: RefCell::default() })
    }

    /// The offset of `oid` in the pack, if the pack has it.
    pub(crate) fn find(&self, oid: Oid) -> Option<u64> {
        let first = oid.0[0] as usize;
        let fanout = |i: usize| be32(&self.idx, 8 + i * 4) as usize;
        let (mut lo, mut hi) = (if first == 0 { 0 } else { fanout(first - 1) }, fanout(first).min(self.count));
        let names = 8 + 1024;
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.idx[names + mid * 20..names + mid * 20 + 20].cmp(&oid.0) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.offset(mid),
            }
        }
        None
    }

    fn offset(&self, position: usize) -> Option<u64> {
        let offsets = 8 + 1024 + self.count * 24;
        let small = be32(&self.idx, offsets + position * 4);
        if small & 0x8000_0000 == 0 {
            return Some(small as u64);
        }
        let large = offsets + self.count * 4 + (small & 0x7fff_ffff) as usize * 8;
        let bytes = self.idx.get(large..large + 8)?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }

    /// The object whose entry starts at `offset`, its delta chain resolved;
    /// `by_name` reads a base named by id (it may sit in another pack).
    pub(crate) fn read_at(
        &self,
        offset: u64,
        by_name: &dyn Fn(Oid) -> Result<(Kind, Vec<u8>)>,
    ) -> Result<(Kind, Vec<u8>)> {
        let mut deltas = Vec::new();
        let mut at = offset;
        let (kind, mut data) = loop {
            if let Some((kind, data)) = self.cache.borrow().objects.get(&at) {
                break (*kind, data.clone());
            }
            if deltas.len() > MAX_CHAIN {
                return corrupt(format!("{}: a delta chain longer than {MAX_CHAIN}", self.path.display()));
            }
            let (entry, data) = self.entry(at)?;
            match entry {
                Entry::Whole(kind) => {
                    if !deltas.is_empty() {
                        self.remember(at, kind, &data);
                    }
                    break (kind, data);
                }
                Entry::OffsetDelta(base) => {
                    deltas.push((at, data));
                    at = base;
                }
                Entry::NamedDelta(base) => {
                    deltas.push((at, data));
                    break by_name(base)?;
                }
            }
        };
        while let Some((at, delta)) = deltas.pop() {
            data = apply_delta(&data, &delta)?;
            self.remember(at, kind, &data);
        }
        Ok((kind, data))
    }

    fn remember(&self, offset: u64, kind: Kind, data: &[u8]) {
        let mut cache = self.cache.borrow_mut();
        if data.len() > CACHE_BYTES / 4 {
            return;
        }
        if cache.bytes + data.len() > CACHE_BYTES {
            *cache = Cache::default();
        }
        cache.bytes += data.len();
        cache.objects.insert(offset, (kind, data.to_vec()));
    }

    /// One entry: its header, and its data inflated (a delta's is the delta).
    fn entry(&self, offset: u64) -> Result<(Entry, Vec<u8>)> {
        let mut slot = self.file.borrow_mut();
        if slot.is_none() {
            let file = File::open(&self.path).map_err(|e| Error::Io(self.path.clone(), e))?;
            *slot = Some(BufReader::with_capacity(64 << 10, file));
        }
        let reader = slot.as_mut().expect("opened above");
        let io = |e: std::io::Error| Error::Io(self.path.clone(), e);
        reader.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut byte = next_byte(reader).map_err(io)?;
        let number = (byte >> 4) & 7;
        let mut size = (byte & 15) as u64;
        let mut shift = 4;
        while byte & 0x80 != 0 {
            byte = next_byte(reader).map_err(io)?;
            if shift > 56 {
                return corrupt("a pack entry's size");
            }
            size |= ((byte & 0x7f) as u64) << shift;
            shift += 7;
        }
        let entry = match number {
            OFS_DELTA => {
                let mut byte = next_byte(reader).map_err(io)?;
                let mut back = (byte & 0x7f) as u64;
                while byte & 0x80 != 0 {
                    byte = next_byte(reader).map_err(io)?;
                    back = back.checked_add(1).and_then(|b| b.checked_mul(128)).ok_or_else(|| bad_entry(offset))?
                        | (byte & 0x7f) as u64;
                }
                Entry::OffsetDelta(offset.checked_sub(back).filter(|_| back > 0).ok_or_else(|| bad_entry(offset))?)
            }
            REF_DELTA => {
                let mut name = [0u8; 20];
                reader.read_exact(&mut name).map_err(io)?;
                Entry::NamedDelta(Oid(name))
            }
            other => Entry::Whole(Kind::from_pack_type(other).ok_or_else(|| bad_entry(offset))?),
        };
        if size > MAX_OBJECT {
            return Err(Error::Unsupported(format!("an object of {size} bytes")));
        }
        let mut data = Vec::with_capacity(size as usize);
        ZlibDecoder::new(&mut *reader).take(size).read_to_end(&mut data).map_err(io)?;
        if data.len() as u64 != size {
            return Err(bad_entry(offset));
        }
        Ok((entry, data))
    }
}

fn next_byte(reader: &mut impl BufRead) -> std::io::Result<u8> {
    let mut byte = [0u8];
    reader.read_exact(&mut byte)?;
    Ok(byte[0])
}

fn bad_entry(offset: u64) -> Error {
    Error::Corrupt(format!("the pack entry at {offset}"))
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Rebuilds an object from its base and a delta (copy and insert
/// instructions), checking every range against the base.
pub(crate) fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>> {
    let mut at = 0;
    let mut varint = || -> Result<u64> {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let byte = *delta.get(at).ok_or_else(|| Error::Corrupt("a truncated delta".into()))?;
            at += 1;
            if shift > 56 {
                return corrupt("a delta's size");
            }
            value |= ((byte & 0x7f) as u64) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
    };
    let (base_size, size) = (varint()?, varint()?);
    if base_size != base.len() as u64 || size > MAX_OBJECT {
        return corrupt("a delta for another base");
    }
    let mut out = Vec::with_capacity(size as usize);
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            let mut field = |bits: u8, shift_bytes: usize| -> Result<u32> {
                let mut value = 0u32;
                for i in 0..shift_bytes {
                    if bits & (1 << i) != 0 {
                        value |= (*delta.get(at).ok_or_else(|| Error::Corrupt("a truncated delta".into()))? as u32)
                            << (8 * i);
                        at += 1;
                    }
                }
                Ok(value)
            };
            let offset = field(op & 0x0f, 4)? as usize;
            let length = match field((op >> 4) & 0x07, 3)? {
                0 => 0x10000,
                n => n as usize,
            };
            let Some(piece) = offset.checked_add(length).and_then(|end| base.get(offset..end)) else {
                return corrupt("a delta copies past its base");
            };
            out.extend_from_slice(piece);
        } else if op != 0 {
            let Some(piece) = delta.get(at..at + op as usize) else { return corrupt("a truncated delta") };
            out.extend_from_slice(piece);
            at += op as usize;
        } else {
            return corrupt("a delta with a reserved instruction");
        }
        if out.len() as u64 > size {
            return corrupt("a delta longer than it says");
        }
    }
    if out.len() as u64 != size {
        return corrupt("a delta shorter than it says");
    }
    Ok(out)
}
