//! The built-in tool components, compiled by `build.rs` and embedded in the
//! binary, so `wasmgate` is one file that needs nothing beside it: the file
//! tools (`read`, `write`, `edit`, `list`, `glob`, and the typed `files`
//! interface), the search tools (`grep`, and the typed `search` interface),
//! the shell (`bash`), the git view (the typed `vcs` interface) and the web
//! fetch (`webfetch`). The list is the guest workspace's members
//! (`guest-tools/Cargo.toml`), so it is kept in that one place.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
