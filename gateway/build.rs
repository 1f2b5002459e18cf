//! Builds the guest components in `../guest-tools` for wasm32-wasip2.
//!
//! The guests are a cargo workspace of their own. This script runs cargo on
//! it, as wasmtime's test-programs do, into `<target>/wasm-guests` (shared by
//! every host profile, so debug and release builds do not compile the guests
//! twice), and tells rustc where each component is through environment
//! variables: `WASMGATE_COMPONENT_<NAME>` holds the path of
//! `guest-tools/<name>` built as a component. Nobody builds the guests by hand.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest crates and the file each becomes.
const GUESTS: &[(&str, &str)] = &[
    ("files", "files.wasm"),
    ("search", "search.wasm"),
    ("shell", "shell.wasm"),
    ("test-hostile", "test_hostile.wasm"),
];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let guests = root.join("guest-tools");
    for watched in ["Cargo.toml", "Cargo.lock", "lib", "files", "search", "shell", "test-hostile", ".cargo"] {
        println!("cargo:rerun-if-changed={}", guests.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    require_target(&rustc);

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir.ancestors().nth(4).unwrap_or(&out_dir).join("wasm-guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&guests)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(guests.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir);
    // The host build's flags and wrappers are not the guests'.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    let output = command.output().expect("running cargo to build the guest components");
    if !output.status.success() {
        panic!(
            "building the guest components failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let built = target_dir.join(TARGET).join("release");
    for (crate_name, file) in GUESTS {
        let path = built.join(file);
        assert!(path.exists(), "guest {crate_name} did not produce {}", path.display());
        let var = format!("WASMGATE_COMPONENT_{}", crate_name.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={var}={}", path.display());
    }
}

/// Stops with the exact fix when the wasm32-wasip2 standard library is missing.
fn require_target(rustc: &str) {
    let libdir = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = libdir.as_deref().is_some_and(has_std);
    if !installed {
        panic!(
            "\n\nThe {TARGET} target is not installed; wasmgate builds its tools for it.\n\
             Install it with:\n\n    rustup target add {TARGET}\n\n"
        );
    }
}

fn has_std(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        .unwrap_or(false)
}
