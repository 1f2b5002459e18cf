//! The compile cache: a second start loads compiled code instead of
//! compiling, and a damaged entry is replaced rather than trusted.

use wasmgate::sandbox::{CompileCache, Sandbox};

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

#[tokio::test]
async fn a_second_start_reuses_the_compiled_component() {
    let dir = tempfile::tempdir().unwrap();
    let first = Sandbox::builder().cache(CompileCache::at(dir.path())).build().await.unwrap();
    let cached = entries(dir.path());
    assert_eq!(cached.len(), wasmgate::builtin::COMPONENTS.len(), "one entry per built-in component");
    let written: Vec<_> = cached.iter().map(|e| std::fs::metadata(e).unwrap().modified().unwrap()).collect();

    let second = Sandbox::builder().cache(CompileCache::at(dir.path())).build().await.unwrap();
    assert_eq!(entries(dir.path()), cached);
    let rewritten: Vec<_> = cached.iter().map(|e| std::fs::metadata(e).unwrap().modified().unwrap()).collect();
    assert_eq!(rewritten, written, "an entry was rewritten");
    assert_eq!(first.tools(), second.tools());
}

#[tokio::test]
async fn a_damaged_entry_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    Sandbox::builder().cache(CompileCache::at(dir.path())).build().await.unwrap();
    let entry = entries(dir.path()).remove(0);
    std::fs::write(&entry, b"not a compiled component").unwrap();

    let sandbox = Sandbox::builder().cache(CompileCache::at(dir.path())).build().await.unwrap();
    assert!(sandbox.tools().iter().any(|t| t.name == "read"));
    assert!(std::fs::metadata(&entry).unwrap().len() > 1000, "the damaged entry was not replaced");
}
