//! Skills: folders of instructions (`SKILL.md`, with a `name` and a
//! `description` in its front matter, and any files beside it) the model
//! loads when a task matches one, through the `skill` tool; `GET /skill`
//! lists them, and `GET /command` offers each as a slash command.
//!
//! They are found where the reference looks: `.opencode/skill/`,
//! `.opencode/skills/`, `.claude/skills/` and `.agents/skills/` in the
//! workspace, and `skill/` and `skills/` in the user's OpenCode config
//! folder (for the server's own user only: a tenant never sees the host's).
//! Every folder is listed and every file read through the sandbox, under a
//! read-only grant, so a skill folder that is a link out of the workspace
//! leads nowhere. Later places win a name: the config folder's, then the
//! workspace's.

use crate::sandbox::{Content, EntryKind, Grant, Sandbox};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where skills live in a workspace, in the order they are read.
const WORKSPACE_FOLDERS: [&str; 4] = [".claude/skills", ".agents/skills", ".opencode/skill", ".opencode/skills"];
/// Where they live in the user's config folder.
const CONFIG_FOLDERS: [&str; 2] = ["skill", "skills"];
/// How deep below a skills folder a `SKILL.md` is looked for.
const MAX_DEPTH: usize = 3;
/// The most skills one place offers.
const MAX_SKILLS: usize = 200;
/// The longest description kept (the reference allows 1,024 characters).
const MAX_DESCRIPTION: usize = 1024;

/// One skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// Its `SKILL.md`, as an absolute path on the host.
    pub location: PathBuf,
    /// The instructions: `SKILL.md` after its front matter.
    pub content: String,
    /// The other files of its folder (at most ten), absolute.
    pub files: Vec<PathBuf>,
}

/// A folder skills are read from: a read-only grant on it, and where it is.
pub struct Place {
    pub grant: Grant,
    pub root: PathBuf,
    pub folders: &'static [&'static str],
}

impl Place {
    /// The workspace's skill folders, under `grant` (read-only) on `root`.
    pub fn workspace(grant: Grant, root: &Path) -> Place {
        Place { grant, root: root.to_path_buf(), folders: &WORKSPACE_FOLDERS }
    }

    /// The user's config folder (`~/.config/opencode`), if it exists.
    pub fn config(folder: &Path) -> Option<Place> {
        let grant = Grant::read_only(folder).ok()?;
        Some(Place { grant, root: folder.to_path_buf(), folders: &CONFIG_FOLDERS })
    }
}

/// Every skill of `places`, by name (a later place wins a name).
pub async fn discover(sandbox: &Sandbox, places: &[Place]) -> BTreeMap<String, Skill> {
    let mut skills = BTreeMap::new();
    for place in places {
        let mut found = 0;
        for folder in place.folders {
            let mut pending = vec![(folder.to_string(), 0)];
            while let Some((dir, depth)) = pending.pop() {
                let Ok(entries) = sandbox.list_dir(&place.grant, &dir).await else { continue };
                let files = entries.iter().filter(|e| e.kind == EntryKind::File);
                if let Some(skill_md) = files.clone().find(|e| e.name == "SKILL.md")
                    && found < MAX_SKILLS
                {
                    let beside = files.filter(|e| e.name != "SKILL.md").take(10).map(|e| place.root.join(&e.path));
                    if let Some(skill) = read(sandbox, place, &skill_md.path, beside.collect()).await {
                        found += 1;
                        skills.insert(skill.name.clone(), skill);
                    }
                }
                for entry in entries {
                    if entry.kind == EntryKind::Directory && depth < MAX_DEPTH {
                        pending.push((entry.path, depth + 1));
                    }
                }
            }
        }
    }
    skills
}

/// The skill whose `SKILL.md` is at `path`, with `files` beside it.
async fn read(sandbox: &Sandbox, place: &Place, path: &str, files: Vec<PathBuf>) -> Option<Skill> {
    let file = sandbox.read_file(&place.grant, path).await.ok()?;
    let Content::Text(text) = file.content else { return None };
    let (name, description, content) = parse(&text)?;
    Some(Skill { name, description, location: place.root.join(path), content, files })
}

/// A `SKILL.md`'s name, description and instructions, if its front matter
/// has a valid name (lowercase letters, digits and single hyphens, at most
/// 64) and a description.
pub fn parse(text: &str) -> Option<(String, String, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text.strip_prefix("---")?.trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))?;
    let end = rest.lines().position(|line| line.trim_end() == "---")?;
    let lines: Vec<&str> = rest.lines().collect();
    let fields = front_matter(&lines[..end]);
    let body: String = lines[end + 1..].join("\n");
    let name = fields.get("name")?.clone();
    let description = fields.get("description")?.clone();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !valid || description.trim().is_empty() {
        return None;
    }
    let description: String = description.trim().chars().take(MAX_DESCRIPTION).collect();
    Some((name, description, body.trim().to_string()))
}

/// The `key: value` pairs of YAML front matter: plain and quoted scalars,
/// and `|` / `>` blocks (what skill files use), nothing more.
fn front_matter(lines: &[&str]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.starts_with([' ', '\t', '#']) || line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        let value = if let Some(style) = value.strip_prefix(['|', '>']).map(|_| value.as_bytes()[0]) {
            let mut block = Vec::new();
            while i < lines.len() && (lines[i].starts_with([' ', '\t']) || lines[i].trim().is_empty()) {
                block.push(lines[i].trim());
                i += 1;
            }
            let separator = if style == b'|' { "\n" } else { " " };
            block.join(separator).trim().to_string()
        } else if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"')) || (value.starts_with('\'') && value.ends_with('\'')))
        {
            value[1..value.len() - 1].replace("\\\"", "\"").replace("''", "'")
        } else {
            value.to_string()
        };
        fields.insert(key.trim().to_string(), value);
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn front_matter_gives_the_name_description_and_instructions() {
        let text =
            "---\nname: pdf-tools\ndescription: Fill and merge PDF forms.\nlicense: MIT\n---\n\n# PDF\n\nRun it.\n";
        assert_eq!(
            parse(text),
            Some(("pdf-tools".into(), "Fill and merge PDF forms.".into(), "# PDF\n\nRun it.".into()))
        );
        let folded = "---\nname: x\ndescription: >\n  Two lines\n  folded.\n---\nbody";
        assert_eq!(parse(folded).unwrap().1, "Two lines folded.");
        let quoted = "---\r\nname: 'y'\r\ndescription: \"Says: hi\"\r\n---\r\nbody\r\n";
        assert_eq!(parse(quoted).unwrap().1, "Says: hi");
    }

    #[test]
    fn a_skill_without_a_valid_name_or_a_description_is_not_one() {
        for text in [
            "no front matter",
            "---\nname: ok\n---\nno description",
            "---\ndescription: no name\n---\n",
            "---\nname: Bad_Name\ndescription: d\n---\n",
            "---\nname: ../up\ndescription: d\n---\n",
            "---\nname: a--b\ndescription: d\n---\n",
            "---\nname: fine\ndescription: never closed\n",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
