//! What a jailed program wrote, applied to the workspace once it has ended,
//! with what each path held before told to the call's change sink first.
//!
//! A program that runs where the call records its changes writes into a
//! layer (see `crate::jail::layer`), not the workspace. This module walks
//! that layer, as overlayfs leaves it, and makes the same changes through
//! the grant's handle:
//!
//! - a regular file or a link: put in place of what the path held (a file
//!   is moved where both are on one filesystem, else copied with its mode
//!   and modification time, which build tools compare);
//! - a whiteout (a character device 0:0): the path is removed;
//! - a folder: made where there was none, and entered; an *opaque* one (a
//!   folder the program removed and made again) first has the old one's
//!   entries removed;
//! - FIFOs, sockets and devices the program made are not applied, nor are
//!   set-user-id and set-group-id bits.
//!
//! Before each change, the path's prior state is read beneath the
//! workspace handle and told to the sink, once per path per call (the same
//! records the sandbox keeps for components), so undo puts it back. Paths
//! git ignores (`.gitignore` files, `.git/info/exclude`) and `.git` itself
//! are applied without being recorded, as the reference's snapshots leave
//! them out: a build's `target/` or an install's `node_modules/` would
//! otherwise fill the session's diffs and undo's budget with artifacts.

use super::change_capture::{ChangeSink, MAX_SUBTREE, Prior, read_prior};
use cap_std::fs::{Dir, MetadataExt, PermissionsExt};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// The attribute overlayfs (in a user namespace) marks an opaque folder with.
const OPAQUE: &str = "user.overlay.opaque";

/// The permission bits a program's file or folder keeps in the workspace:
/// never set-user-id or set-group-id, which a jailed program may set inside
/// but must not leave behind for the host's users to run.
const KEPT_MODE: u32 = 0o1777;

/// Applies the layer's `upper` folder to `workspace`, telling `sink` (with
/// the paths in `told` already told) first. Returns the paths now told and
/// what could not be applied.
pub(super) fn apply(
    upper: &Path,
    workspace: &Dir,
    sink: Option<Arc<dyn ChangeSink>>,
    told: HashSet<String>,
) -> (HashSet<String>, Vec<String>) {
    let upper = match Dir::open_ambient_dir(upper, cap_std::ambient_authority()) {
        Ok(upper) => upper,
        Err(e) => return (told, vec![format!("the program's writes could not be read: {e}")]),
    };
    let rules = Rules::root(&upper, workspace);
    let mut applier = Applier { upper: &upper, workspace, sink, told, problems: Vec::new() };
    applier.folder(&upper, Path::new(""), &rules);
    (applier.told, applier.problems)
}

struct Applier<'a> {
    /// The layer's root, where each path is as in the workspace.
    upper: &'a Dir,
    workspace: &'a Dir,
    sink: Option<Arc<dyn ChangeSink>>,
    told: HashSet<String>,
    problems: Vec<String>,
}

impl Applier<'_> {
    /// Applies the layer's folder `layer` (at `path` in the workspace).
    fn folder(&mut self, layer: &Dir, path: &Path, rules: &Rules) {
        let entries = match layer.entries() {
            Ok(entries) => entries,
            Err(e) => return self.problem(path, e),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return self.problem(path, e),
            };
            let name = entry.file_name();
            let inner = path.join(&name);
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) => {
                    self.problem(&inner, e);
                    continue;
                }
            };
            let kind = meta.file_type();
            let recorded = rules.records(&inner, kind.is_dir());
            if is_whiteout(&meta) {
                self.remove(&inner, recorded);
            } else if kind.is_dir() {
                let Some((below, opaque)) = open_layer_folder(layer, &name) else { continue };
                let existing = self.workspace.symlink_metadata(&inner);
                let merged = existing.as_ref().is_ok_and(|m| m.is_dir()) && !opaque;
                if !merged {
                    if existing.is_ok() {
                        self.remove(&inner, recorded);
                    }
                    self.tell(&inner, recorded);
                    if let Err(e) = self.workspace.create_dir(&inner) {
                        self.problem(&inner, e);
                        continue;
                    }
                    let mode = cap_std::fs::Permissions::from_mode(meta.permissions().mode() & KEPT_MODE);
                    let _ = self.workspace.set_permissions(&inner, mode);
                }
                let rules = rules.below(self.upper, self.workspace, &inner, recorded);
                self.folder(&below, &inner, &rules);
            } else if kind.is_file() || kind.is_symlink() {
                if self.workspace.symlink_metadata(&inner).is_ok_and(|m| m.is_dir()) {
                    self.remove(&inner, recorded);
                } else {
                    self.tell(&inner, recorded);
                }
                let placed = match kind.is_file() {
                    true => place_file(layer, &name, self.workspace, &inner, &meta),
                    false => place_link(layer, &name, self.workspace, &inner),
                };
                if let Err(e) = placed {
                    self.problem(&inner, e);
                }
            } else {
                self.problems
                    .push(format!("{}: a FIFO, socket or device is not copied out of the jail", inner.display()));
            }
        }
    }

    /// Tells the sink what `path` holds now, unless told already or not
    /// recorded.
    fn tell(&mut self, path: &Path, recorded: bool) {
        let Some(sink) = self.sink.as_ref().filter(|_| recorded) else { return };
        let Some(key) = path.to_str() else { return };
        if self.told.insert(key.to_string()) {
            sink.before_change(key, read_prior(self.workspace, path, &**sink));
        }
    }

    /// Removes `path` from the workspace, a folder with all it holds, each
    /// entry told first.
    fn remove(&mut self, path: &Path, recorded: bool) {
        let Ok(meta) = self.workspace.symlink_metadata(path) else { return };
        self.tell(path, recorded);
        let removed = match meta.is_dir() {
            true => {
                self.tell_tree(path, recorded);
                self.workspace.remove_dir_all(path)
            }
            false => self.workspace.remove_file(path),
        };
        if let Err(e) = removed {
            self.problem(path, e);
        }
    }

    /// Tells everything under the folder `path`, up to [`MAX_SUBTREE`]
    /// entries (past which the folder's own record says it was not kept).
    fn tell_tree(&mut self, path: &Path, recorded: bool) {
        let Some(sink) = self.sink.clone().filter(|_| recorded) else { return };
        let mut pending = vec![path.to_path_buf()];
        let mut seen = 0;
        while let Some(folder) = pending.pop() {
            let Ok(entries) = self.workspace.read_dir(&folder) else { continue };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_SUBTREE {
                    let why = format!("a removed folder of more than {MAX_SUBTREE} entries");
                    if let Some(key) = path.to_str() {
                        sink.before_change(key, Prior::Unkept(why));
                    }
                    return;
                }
                let inner = folder.join(entry.file_name());
                self.tell(&inner, true);
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    pending.push(inner);
                }
            }
        }
    }

    fn problem(&mut self, path: &Path, error: std::io::Error) {
        self.problems.push(format!("{}: {error}", path.display()));
    }
}

/// The layer's folder `name` (never through a link), and whether it is
/// opaque: made anew, hiding what the workspace's folder held.
fn open_layer_folder(layer: &Dir, name: &std::ffi::OsStr) -> Option<(Dir, bool)> {
    use rustix::fs::OFlags;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let folder = rustix::fs::openat(layer, name, flags, rustix::fs::Mode::empty()).ok()?;
    let opaque = rustix::fs::fgetxattr(&folder, OPAQUE, &mut [0u8; 1]).is_ok_and(|n| n == 1);
    Some((Dir::from_std_file(std::fs::File::from(folder)), opaque))
}

/// Whether an entry of the layer marks a removal.
fn is_whiteout(meta: &cap_std::fs::Metadata) -> bool {
    use cap_std::fs::FileTypeExt;
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Moves the layer's file `name` to `path` in the workspace, or copies it
/// (mode and modification time kept) where the two are on different disks;
/// set-user-id and set-group-id bits are dropped first.
fn place_file(
    layer: &Dir,
    name: &std::ffi::OsStr,
    workspace: &Dir,
    path: &Path,
    meta: &cap_std::fs::Metadata,
) -> std::io::Result<()> {
    let mode = meta.permissions().mode();
    if mode & 0o7777 & !KEPT_MODE != 0 {
        layer.set_permissions(name, cap_std::fs::Permissions::from_mode(mode & KEPT_MODE))?;
    }
    match layer.rename(name, workspace, path) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        moved => return moved,
    }
    layer.copy(name, workspace, path)?;
    // The owner may set the times through a read-only handle.
    workspace.open(path)?.into_std().set_modified(meta.modified()?.into_std())
}

/// Puts the layer's link `name` at `path` in the workspace.
fn place_link(layer: &Dir, name: &std::ffi::OsStr, workspace: &Dir, path: &Path) -> std::io::Result<()> {
    let target = layer.read_link_contents(name)?;
    match workspace.remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    workspace.symlink_contents(target, path)
}

/// Which paths git ignores, from the `.gitignore` files of the folders
/// walked so far (the program's version of one where it wrote it).
struct Rules {
    /// Each walked folder's rules, outermost first.
    levels: Vec<Arc<Gitignore>>,
    /// Whether the folder itself is ignored (so is all it holds).
    ignored: bool,
}

/// Where the rules' paths are rooted (any absolute name will do: only the
/// part below it is matched).
const ROOT: &str = "/workspace";

/// The most of a `.gitignore` file read.
const MAX_RULES: u64 = 1 << 20;

impl Rules {
    fn root(upper: &Dir, workspace: &Dir) -> Rules {
        let mut builder = GitignoreBuilder::new(ROOT);
        for file in [".git/info/exclude", ".gitignore"] {
            add_lines(&mut builder, read_rules(upper, workspace, Path::new(file)));
        }
        let levels = builder.build().map(Arc::new).into_iter().collect();
        Rules { levels, ignored: false }
    }

    /// The rules inside the folder `path`, itself `recorded` or not.
    fn below(&self, upper: &Dir, workspace: &Dir, path: &Path, recorded: bool) -> Rules {
        // Nothing inside an ignored folder is recorded: no rules are read.
        if !recorded {
            return Rules { levels: Vec::new(), ignored: true };
        }
        let mut levels = self.levels.clone();
        let mut builder = GitignoreBuilder::new(Path::new(ROOT).join(path));
        add_lines(&mut builder, read_rules(upper, workspace, &path.join(".gitignore")));
        if let Ok(rules) = builder.build() {
            levels.push(Arc::new(rules));
        }
        Rules { levels, ignored: false }
    }

    /// Whether a change to `path` is recorded: not inside `.git`, and not
    /// ignored by the nearest rule that names it.
    fn records(&self, path: &Path, is_dir: bool) -> bool {
        if self.ignored || path.components().next().is_some_and(|c| c.as_os_str() == ".git") {
            return false;
        }
        let full = Path::new(ROOT).join(path);
        for rules in self.levels.iter().rev() {
            let matched = rules.matched(&full, is_dir);
            if matched.is_ignore() {
                return false;
            }
            if matched.is_whitelist() {
                return true;
            }
        }
        true
    }
}

/// The rules file `path`: as the program left it in the layer, else as the
/// workspace holds it. Only a regular file is read (never a FIFO or a
/// device), and at most [`MAX_RULES`] of it.
fn read_rules(upper: &Dir, workspace: &Dir, path: &Path) -> Option<String> {
    let read = |dir: &Dir| {
        let file = super::special_files::open_regular(dir, path).ok()?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_RULES), &mut text).ok()?;
        Some(text)
    };
    read(upper).or_else(|| read(workspace))
}

fn add_lines(builder: &mut GitignoreBuilder, text: Option<String>) {
    for line in text.iter().flat_map(|text| text.lines()) {
        let _ = builder.add_line(None, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn dir(path: &Path) -> Dir {
        Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap()
    }

    #[test]
    fn git_ignored_paths_and_git_itself_are_not_recorded() {
        let (upper, workspace) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(workspace.path().join(".gitignore"), "target/\n*.log\n!keep.log\n").unwrap();
        std::fs::create_dir_all(workspace.path().join("web")).unwrap();
        std::fs::write(workspace.path().join("web/.gitignore"), "dist\n").unwrap();
        // The program's own rules win over the workspace's for its folder.
        std::fs::create_dir_all(upper.path().join("gen")).unwrap();
        std::fs::write(upper.path().join("gen/.gitignore"), "*.out\n").unwrap();
        let (upper, workspace) = (dir(upper.path()), dir(workspace.path()));
        let root = Rules::root(&upper, &workspace);
        let web = root.below(&upper, &workspace, Path::new("web"), true);
        let gen_rules = root.below(&upper, &workspace, Path::new("gen"), true);
        let target = root.below(&upper, &workspace, Path::new("target"), root.records(Path::new("target"), true));
        let cases = [
            (root.records(Path::new("src.rs"), false), true),
            (root.records(Path::new("target"), true), false),
            (target.records(Path::new("target/anything.rs"), false), false),
            (root.records(Path::new("run.log"), false), false),
            (root.records(Path::new("keep.log"), false), true),
            (root.records(Path::new(".git"), true), false),
            (root.records(Path::new(".git/index"), false), false),
            (web.records(Path::new("web/dist"), true), false),
            (web.records(Path::new("web/app.js"), false), true),
            (web.records(Path::new("web/debug.log"), false), false),
            (gen_rules.records(Path::new("gen/a.out"), false), false),
            (gen_rules.records(Path::new("gen/a.rs"), false), true),
        ];
        let got: Vec<bool> = cases.iter().map(|(got, _)| *got).collect();
        let expected: Vec<bool> = cases.iter().map(|(_, expected)| *expected).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn files_from_another_disk_are_copied_with_their_time_and_mode() {
        // `/dev/shm` is a tmpfs, so the layer and the workspace are on two
        // filesystems and a rename cannot move the file.
        let Ok(upper) = tempfile::tempdir_in("/dev/shm") else { return };
        let workspace = tempfile::tempdir().unwrap();
        let file = upper.path().join("built.sh");
        std::fs::write(&file, "echo built\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let then = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        std::fs::File::open(&file).unwrap().set_modified(then).unwrap();
        let (_, problems) = apply(upper.path(), &dir(workspace.path()), None, HashSet::new());
        assert!(problems.is_empty(), "{problems:?}");
        let copied = workspace.path().join("built.sh");
        let meta = std::fs::metadata(&copied).unwrap();
        assert_eq!(std::fs::read_to_string(&copied).unwrap(), "echo built\n");
        assert_eq!((meta.permissions().mode() & 0o7777, meta.modified().unwrap()), (0o755, then));
    }
}
