//! The one directory walker the tree-shaped tools share.
//!
//! It respects `.gitignore`, `.ignore` and `.git/info/exclude` (in or out of a
//! git repository), skips hidden entries, and never follows symlinks, so a
//! walk cannot leave the workspace or loop. It is `ignore`'s sequential
//! walker: the parallel one needs threads, which WASI 0.2 does not have.

use ignore::WalkBuilder;

/// A walker over `dir` with the standard filters and the given override
/// globs (`!pattern` excludes).
pub fn walker(dir: &str, excludes: &[String]) -> Result<ignore::Walk, String> {
    let mut builder = WalkBuilder::new(dir);
    builder.standard_filters(true).require_git(false).follow_links(false);
    if !excludes.is_empty() {
        let mut overrides = ignore::overrides::OverrideBuilder::new(dir);
        for pattern in excludes {
            let pattern = pattern.trim_end_matches('/');
            overrides.add(&format!("!{pattern}")).map_err(|e| format!("bad ignore pattern {pattern:?}: {e}"))?;
        }
        builder.overrides(overrides.build().map_err(|e| e.to_string())?);
    }
    Ok(builder.build())
}
