//! What `HEAD` and branch names point at: loose ref files, `packed-refs`,
//! and symbolic refs (followed a few levels deep, as git does).

use crate::{Oid, Repository, Result, corrupt, read_optional};

/// Where `HEAD` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The branch checked out (`main`), or `None` when detached.
    pub branch: Option<String>,
    /// Its commit, or `None` on a branch with no commit yet.
    pub commit: Option<Oid>,
}

/// How many symbolic refs are followed before giving up.
const MAX_SYMBOLIC: usize = 5;

impl Repository {
    /// Where `HEAD` is.
    pub fn head(&self) -> Result<Head> {
        let Some(text) = read_optional(&self.git_dir.join("HEAD"))? else { return corrupt("no HEAD") };
        let text = String::from_utf8_lossy(&text).trim().to_string();
        match text.strip_prefix("ref: ") {
            Some(name) => {
                Ok(Head { branch: name.strip_prefix("refs/heads/").map(str::to_string), commit: self.resolve(name)? })
            }
            None => Ok(Head { branch: None, commit: Some(Oid::from_hex(&text).ok_or_else(|| bad_ref("HEAD"))?) }),
        }
    }

    /// The commit a full ref name (`refs/heads/main`) points at, if it exists.
    pub fn resolve(&self, name: &str) -> Result<Option<Oid>> {
        let mut name = name.to_string();
        for _ in 0..MAX_SYMBOLIC {
            if !valid_name(&name) {
                return Err(bad_ref(&name));
            }
            let Some(value) = self.ref_value(&name)? else { return Ok(None) };
            match value.strip_prefix("ref: ") {
                Some(target) => name = target.to_string(),
                None => return Ok(Some(Oid::from_hex(&value).ok_or_else(|| bad_ref(&name))?)),
            }
        }
        corrupt(format!("symbolic ref {name} nests too deep"))
    }

    /// The branch the repository's default is, with its full ref name:
    /// `origin`'s `HEAD` when it names one, else `main` or `master`, the
    /// first that exists.
    pub fn default_branch(&self) -> Result<Option<(String, String)>> {
        if let Some(value) = self.ref_value("refs/remotes/origin/HEAD")?
            && let Some(target) = value.strip_prefix("ref: ")
            && let Some(short) = target.strip_prefix("refs/remotes/origin/")
            && self.resolve(target)?.is_some()
        {
            return Ok(Some((short.to_string(), target.to_string())));
        }
        for name in ["main", "master"] {
            let full = format!("refs/heads/{name}");
            if self.resolve(&full)?.is_some() {
                return Ok(Some((name.to_string(), full)));
            }
        }
        Ok(None)
    }

    /// A ref's text as stored (a hex name or `ref: ...`): the loose file,
    /// else its line in `packed-refs`.
    fn ref_value(&self, name: &str) -> Result<Option<String>> {
        let dir = if name.starts_with("refs/") { &self.common_dir } else { &self.git_dir };
        if let Some(text) = read_optional(&dir.join(name))? {
            return Ok(Some(String::from_utf8_lossy(&text).trim().to_string()));
        }
        let Some(packed) = read_optional(&self.common_dir.join("packed-refs"))? else { return Ok(None) };
        Ok(String::from_utf8_lossy(&packed)
            .lines()
            .filter(|line| !line.starts_with('#') && !line.starts_with('^'))
            .find_map(|line| line.split_once(' ').filter(|(_, n)| *n == name).map(|(hex, _)| hex.to_string())))
    }
}

/// A ref name that stays inside the git folder.
fn valid_name(name: &str) -> bool {
    (name == "HEAD" || name.starts_with("refs/"))
        && !name.split('/').any(|part| part.is_empty() || part == "." || part == "..")
        && !name.contains('\\')
}

fn bad_ref(name: &str) -> crate::Error {
    crate::Error::Corrupt(format!("ref {name}"))
}
