//! Checked against `git` itself: real repositories, loose and packed (with
//! deltas), every index version, and what a hostile repository might hold.

use super::*;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A repository with three commits, a folder, a link, an executable and a
/// file grown over the commits (so packing makes deltas).
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    let mut long = String::new();
    for round in 0..3 {
        for line in 0..200 {
            long.push_str(&format!("line {line} of round {round}\n"));
        }
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("src/deep/long.txt"), &long).unwrap();
        std::fs::write(root.join(format!("file{round}.txt")), format!("round {round}\n")).unwrap();
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", &format!("round {round}")]);
    }
    std::os::unix::fs::symlink("src/deep/long.txt", root.join("link")).unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "link"]);
    dir
}

/// `git ls-tree -r HEAD`, as (mode, oid, path).
fn ls_tree(root: &Path, rev: &str) -> Vec<(u32, String, String)> {
    git(root, &["ls-tree", "-r", rev])
        .lines()
        .map(|line| {
            let (meta, path) = line.split_once('\t').unwrap();
            let parts: Vec<&str> = meta.split(' ').collect();
            (u32::from_str_radix(parts[0], 8).unwrap(), parts[2].to_string(), path.to_string())
        })
        .collect()
}

fn ours(repo: &Repository, commit: Oid) -> Vec<(u32, String, String)> {
    let tree = repo.commit(commit).unwrap().tree;
    repo.tree_files(tree).unwrap().into_iter().map(|(path, e)| (e.mode, e.oid.to_string(), path)).collect()
}

fn check_against_git(root: &Path) {
    let repo = Repository::at_worktree(root).unwrap().expect("a repository");
    let head = repo.head().unwrap();
    assert_eq!(head.branch.as_deref(), Some("main"));
    let commit = head.commit.unwrap();
    assert_eq!(commit.to_string(), git(root, &["rev-parse", "HEAD"]).trim());
    assert_eq!(ours(&repo, commit), ls_tree(root, "HEAD"));
    for (_, oid, path) in ls_tree(root, "HEAD") {
        let content = repo.blob(Oid::from_hex(&oid).unwrap()).unwrap();
        assert_eq!(Oid::of_blob(&content).to_string(), oid, "{path}");
    }
    let parent = repo.commit(commit).unwrap().parents[0];
    assert_eq!(parent.to_string(), git(root, &["rev-parse", "HEAD~1"]).trim());
    assert_eq!(ours(&repo, parent), ls_tree(root, "HEAD~1"));
}

#[test]
fn loose_objects_read_as_git_wrote_them() {
    let dir = repository();
    check_against_git(dir.path());
}

#[test]
fn packed_objects_and_their_deltas_read_as_git_wrote_them() {
    let dir = repository();
    git(dir.path(), &["repack", "-adf", "-q", "--depth=50", "--window=50"]);
    git(dir.path(), &["pack-refs", "--all"]);
    assert!(!dir.path().join(".git/refs/heads/main").exists(), "the branch now lives in packed-refs");
    let verify = git(dir.path(), &["verify-pack", "-v", &pack_idx(dir.path())]);
    assert!(verify.contains("chain length = 1"), "the pack has deltas: {verify}");
    check_against_git(dir.path());
}

fn pack_idx(root: &Path) -> String {
    let dir = root.join(".git/objects/pack");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".idx"))
        .unwrap();
    dir.join(name).display().to_string()
}

#[test]
fn a_pack_of_deltas_against_named_bases_reads() {
    // A pack written with `--delta-base-offset` off names every delta's
    // base by id (REF_DELTA) instead of by offset.
    let dir = repository();
    let root = dir.path();
    let pack = Command::new("git")
        .args(["pack-objects", "--all", "--no-delta-base-offset", "--depth=50", "-q", "--stdout"])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(pack.status.success());
    let fresh = tempfile::tempdir().unwrap();
    git(fresh.path(), &["init", "-q"]);
    let pack_dir = fresh.path().join(".git/objects/pack");
    std::fs::write(pack_dir.join("p.pack"), &pack.stdout).unwrap();
    git(fresh.path(), &["index-pack", pack_dir.join("p.pack").to_str().unwrap()]);
    assert!(git(fresh.path(), &["verify-pack", "-v", &pack_idx(fresh.path())]).contains("chain length = 1"));
    let head = git(root, &["rev-parse", "HEAD"]);
    git(fresh.path(), &["update-ref", "refs/heads/main", head.trim()]);
    let repo = Repository::open(fresh.path().join(".git")).unwrap();
    assert_eq!(ours(&repo, Oid::from_hex(head.trim()).unwrap()), ls_tree(root, "HEAD"));
}

#[test]
fn every_index_version_lists_what_git_tracks() {
    let dir = repository();
    let root = dir.path();
    std::fs::write(root.join("staged.txt"), "new\n").unwrap();
    git(root, &["add", "staged.txt"]);
    std::fs::write(root.join("intent.txt"), "later\n").unwrap();
    git(root, &["add", "-N", "intent.txt"]);
    for version in ["2", "3", "4"] {
        git(root, &["update-index", "--index-version", version]);
        let index = Index::read(&root.join(".git")).unwrap();
        let ours: Vec<(String, String)> = index.entries.iter().map(|e| (e.path.clone(), e.oid.to_string())).collect();
        let theirs: Vec<(String, String)> = git(root, &["ls-files", "-s"])
            .lines()
            .map(|l| {
                let (meta, path) = l.split_once('\t').unwrap();
                (path.to_string(), meta.split(' ').nth(1).unwrap().to_string())
            })
            .collect();
        assert_eq!(ours, theirs, "index version {version}");
        let intent = index.entries.iter().find(|e| e.path == "intent.txt").unwrap();
        assert!(intent.intent_to_add, "version {version}");
        let run = index.entries.iter().find(|e| e.path == "run.sh").unwrap();
        assert_eq!(run.mode, 0o100755);
        assert_eq!(run.size, 10);
    }
}

#[test]
fn the_merge_base_and_default_branch_are_gits() {
    let dir = repository();
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "feature", "HEAD~2"]);
    std::fs::write(root.join("feature.txt"), "f\n").unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "feature"]);
    let repo = Repository::at_worktree(root).unwrap().unwrap();
    let head = repo.head().unwrap();
    assert_eq!(head.branch.as_deref(), Some("feature"));
    let (name, full) = repo.default_branch().unwrap().unwrap();
    assert_eq!((name.as_str(), full.as_str()), ("main", "refs/heads/main"));
    let main = repo.resolve(&full).unwrap().unwrap();
    let base = merge_base(&repo, main, head.commit.unwrap()).unwrap().unwrap();
    assert_eq!(base.to_string(), git(root, &["merge-base", "main", "feature"]).trim());
}

#[test]
fn an_unborn_branch_has_no_commit() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    let repo = Repository::at_worktree(dir.path()).unwrap().unwrap();
    assert_eq!(repo.head().unwrap(), Head { branch: Some("main".into()), commit: None });
    assert!(Repository::at_worktree(&dir.path().join(".git")).unwrap().is_none());
}

#[test]
fn hostile_contents_are_refused_not_followed() {
    let dir = repository();
    let root = dir.path();
    let repo = Repository::at_worktree(root).unwrap().unwrap();
    // A HEAD naming a ref outside the git folder.
    std::fs::write(root.join(".git/HEAD"), "ref: refs/../../../etc/passwd\n").unwrap();
    assert!(matches!(repo.head(), Err(Error::Corrupt(_))));
    // A tree entry that would climb out of the working tree.
    let mut tree = b"100644 ../escape\0".to_vec();
    tree.extend_from_slice(&[7; 20]);
    assert!(object::parse_tree(&tree).is_err());
    // Deltas that copy past their base or claim another size.
    assert!(pack::apply_delta(b"abc", &[3, 10, 0x91, 0, 10]).is_err());
    assert!(pack::apply_delta(b"abc", &[4, 1, 1, b'x']).is_err());
    assert_eq!(pack::apply_delta(b"abc", &[3, 4, 0x90, 3, 1, b'!']).unwrap(), b"abc!");
    // A pack whose entries name each other in a circle.
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    let pack_dir = dir.path().join(".git/objects/pack");
    let (a, b) = (Oid([1; 20]), Oid([2; 20]));
    let mut pack = b"PACK\0\0\0\x02\0\0\0\x02".to_vec();
    let offsets = [pack.len(), pack.len() + 33];
    for base in [b, a] {
        pack.push(0x70 | 1); // REF_DELTA of 1 byte
        pack.extend_from_slice(&base.0);
        pack.extend_from_slice(&zlib(&[0]));
    }
    let mut idx = vec![0xff, b't', b'O', b'c', 0, 0, 0, 2];
    for i in 0..256u32 {
        idx.extend_from_slice(&(if i >= 2 { 2u32 } else { i }).to_be_bytes());
    }
    idx.extend_from_slice(&a.0);
    idx.extend_from_slice(&b.0);
    idx.extend_from_slice(&[0; 8]);
    for offset in offsets {
        idx.extend_from_slice(&(offset as u32).to_be_bytes());
    }
    idx.extend_from_slice(&[0; 40]);
    std::fs::write(pack_dir.join("p.pack"), &pack).unwrap();
    std::fs::write(pack_dir.join("p.idx"), &idx).unwrap();
    let repo = Repository::open(dir.path().join(".git")).unwrap();
    assert!(repo.object(a).is_err(), "a circle of deltas is an error, not a hang or a crash");
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
