//! `wasmgate tool new`: a new tool's source, ready to build, test and add.
//!
//! A tool author's first minutes decide whether they write a tool at all, so
//! the scaffold is a tool that already works: it counts the lines, words and
//! bytes of a file in the workspace, refuses paths outside it, and comes with
//! a `test.sh` that builds it and calls it through `wasmgate tool call`, the
//! sandbox a server uses. Each language's template is a folder under
//! `templates/`, compiled into the binary, with `{{name}}` standing for the
//! tool's name; every scaffold also gets the WIT contract this server speaks
//! (`wit/tools.wit`), so it builds with its language's toolchain alone, from
//! the package registries, outside this repository.

use std::path::{Path, PathBuf};

/// The languages a scaffold is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, built by cargo for wasm32-wasip2 with wit-bindgen.
    Rust,
    /// Python, built by componentize-py (PyPI).
    Python,
    /// JavaScript, built by componentize-js (npm).
    Js,
}

/// A file of a template: its path in the new folder, its text, and whether
/// it is a script to run.
struct Template {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> Template {
    Template { path, text, executable: false }
}

/// The files every scaffold has: the contract this binary was built
/// against, and a README and a `test.sh` whose language-specific lines are
/// filled from its [`Recipe`].
const COMMON: &[Template] = &[
    file("wit/tools.wit", include_str!("../../../wit/tools.wit")),
    file("README.md", include_str!("templates/README.md")),
    Template { path: "test.sh", text: include_str!("templates/test.sh"), executable: true },
];

/// What one language's scaffold is made of.
struct Recipe {
    /// Its own files.
    files: &'static [Template],
    /// The language, as the README names it.
    language: &'static str,
    /// The file to change to make the tool one's own.
    source: &'static str,
    /// The README's commands that build it.
    build: &'static str,
    /// Where the built component is, relative to the scaffold.
    wasm: &'static str,
    /// `test.sh`'s lines that build it and set `$wasm` to the component.
    test_build: &'static str,
}

const RUST: Recipe = Recipe {
    files: &[
        file("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
        file("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
        file(".gitignore", include_str!("templates/rust/gitignore")),
    ],
    language: "Rust",
    source: "src/lib.rs",
    build: "rustup target add wasm32-wasip2\ncargo build --release --target wasm32-wasip2",
    wasm: "target/wasm32-wasip2/release/{{name}}.wasm",
    test_build: "cargo build --release --target wasm32-wasip2 --manifest-path \"$here/Cargo.toml\"\n\
                 wasm=${CARGO_TARGET_DIR:-$here/target}/wasm32-wasip2/release/{{name}}.wasm",
};

const PYTHON: Recipe = Recipe {
    files: &[
        file("app.py", include_str!("templates/python/app.py")),
        file(".gitignore", include_str!("templates/python/gitignore")),
    ],
    language: "Python",
    source: "app.py",
    build: "pip install componentize-py==0.25.1\n\
            componentize-py -d wit -w tool-provider componentize app -o {{name}}.wasm",
    wasm: "{{name}}.wasm",
    test_build: "${COMPONENTIZE_PY:-componentize-py} -d \"$here/wit\" -w tool-provider componentize -p \"$here\" app \
                 -o \"$here/{{name}}.wasm\"\nwasm=$here/{{name}}.wasm",
};

const JS: Recipe = Recipe {
    files: &[
        file("tool.js", include_str!("templates/js/tool.js")),
        file("build.mjs", include_str!("templates/js/build.mjs")),
        file("package.json", include_str!("templates/js/package.json")),
        file(".gitignore", include_str!("templates/js/gitignore")),
    ],
    language: "JavaScript",
    source: "tool.js",
    build: "npm install\nnode build.mjs",
    wasm: "{{name}}.wasm",
    test_build: "[ -d \"$here/node_modules/@bytecodealliance/componentize-js\" ] || \
                 (cd \"$here\" && npm install --no-audit --no-fund)\nnode \"$here/build.mjs\"\nwasm=$here/{{name}}.wasm",
};

impl Recipe {
    fn of(language: Language) -> &'static Recipe {
        match language {
            Language::Rust => &RUST,
            Language::Python => &PYTHON,
            Language::Js => &JS,
        }
    }

    /// A template's text for the tool `name`.
    fn fill(&self, template: &Template, name: &str) -> String {
        let build = if template.path == "test.sh" { self.test_build } else { self.build };
        let filled = [
            ("{{build}}", build),
            ("{{language}}", self.language),
            ("{{source}}", self.source),
            ("{{wasm}}", self.wasm),
        ]
        .iter()
        .fold(template.text.to_string(), |text, (key, value)| text.replace(key, value));
        filled.replace("{{name}}", name)
    }
}

/// The longest tool name (providers take 64 characters).
const MAX_NAME: usize = 64;

/// Why a scaffold was not written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "{0:?} is not a tool name for a new tool: use lowercase letters, digits and '_', starting with a letter \
         (at most 64), as it names the tool, its component and its package"
    )]
    BadName(String),
    #[error("{0} already exists and is not empty: choose another folder with --dir")]
    Occupied(PathBuf),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

/// A name a new tool may take: a tool name every provider accepts that is
/// also a Rust crate, a Python identifier and an npm package name.
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let mut chars = name.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_plain = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !first_is_letter || !rest_plain || name.len() > MAX_NAME {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    Ok(())
}

/// Writes a new tool `name` in `language` into `dir` (made if missing; an
/// existing one must be empty) and returns the files written. Nothing is
/// written for a bad name or an occupied folder.
pub fn create(name: &str, language: Language, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    check_name(name)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ScaffoldError::Io { path, error }
    };
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            if entries.into_iter().next().is_some() {
                return Err(ScaffoldError::Occupied(dir.to_path_buf()));
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io(dir)(error)),
    }
    let recipe = Recipe::of(language);
    let mut written = Vec::new();
    for template in recipe.files.iter().chain(COMMON) {
        let path = dir.join(template.path);
        std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(io(&path))?;
        std::fs::write(&path, recipe.fill(template, name)).map_err(io(&path))?;
        if template.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io(&path))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// What to run next, for the person who asked for the scaffold.
pub fn next_steps(language: Language, dir: &Path) -> String {
    let build = match language {
        Language::Rust => "rustup target add wasm32-wasip2   # once",
        Language::Python => "pip install componentize-py==0.25.1   # once",
        Language::Js => "npm install   # once",
    };
    format!("  cd {}\n  {build}\n  ./test.sh   # builds it and calls it in the sandbox\n", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_every_language_and_provider() {
        for good in ["wc", "unit_calc2", &"x".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2x", "_x", "Wc", "md-outline", "a b", "../x", "ä", &"x".repeat(65)] {
            assert!(matches!(check_name(bad), Err(ScaffoldError::BadName(_))), "{bad:?}");
        }
    }

    #[test]
    fn every_template_is_named_and_scripts_run() {
        let dir = tempfile::tempdir().unwrap();
        for language in [Language::Rust, Language::Python, Language::Js] {
            let to = dir.path().join(format!("{language:?}"));
            let written = create("my_tool", language, &to).unwrap();
            assert!(written.contains(&to.join("wit/tools.wit")) && written.contains(&to.join("test.sh")));
            for path in &written {
                let text = std::fs::read_to_string(path).unwrap();
                assert!(!text.contains("{{"), "{} keeps a placeholder", path.display());
            }
            assert!(matches!(create("my_tool", language, &to), Err(ScaffoldError::Occupied(_))));
        }
    }
}
