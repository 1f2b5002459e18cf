/*!
Ranks file paths by how well they match what a person typed, for `@file`
mentions and `/find/file`.

The query's characters must appear in the path in order, ignoring case
(`mrs` finds `src/main.rs`). Among the paths that match, the score rewards
what people mean when they type a few letters: characters at the start of a
path segment or word (`s/m` → `src/main.rs`), runs of consecutive
characters, and matches that fall in the file name rather than its folders;
it charges a little for every character skipped and for long paths.

Matching is the two-pass scan of fzf's first algorithm: a forward pass finds
where the earliest complete match ends, a backward pass from there finds the
latest start, and the window between them is scored. It is linear in the
path's length, which matters when a workspace has tens of thousands of files
and the ranking runs inside a sandboxed component.

Paths with a hidden segment (`.github/…`) rank after all others, unless the
query itself asks for hidden ones (it starts with `.` or contains `/.`).
*/

#![deny(missing_docs)]

const SCORE_MATCH: i64 = 16;
const BONUS_SEGMENT_START: i64 = 10;
const BONUS_WORD_START: i64 = 8;
const BONUS_CONSECUTIVE: i64 = 12;
const BONUS_FIRST_CHAR: i64 = 8;
const BONUS_IN_FILE_NAME: i64 = 20;
const PENALTY_GAP: i64 = 1;

/// The score of `path` for `query`, or `None` if the query's characters do
/// not all appear in it, in order. Higher is better.
pub fn score(query: &str, path: &str) -> Option<i64> {
    let query: Vec<char> = query.chars().flat_map(char::to_lowercase).filter(|c| !c.is_whitespace()).collect();
    if query.is_empty() {
        return Some(0);
    }
    let text: Vec<char> = path.chars().collect();
    let lower: Vec<char> = text.iter().map(|c| c.to_lowercase().next().unwrap_or(*c)).collect();

    // Forward: where does the earliest complete match end?
    let mut q = 0;
    let mut end = None;
    for (i, c) in lower.iter().enumerate() {
        if *c == query[q] {
            q += 1;
            if q == query.len() {
                end = Some(i);
                break;
            }
        }
    }
    let end = end?;
    // Backward from there: the latest start of a complete match.
    let mut q = query.len();
    let mut start = end;
    for i in (0..=end).rev() {
        if lower[i] == query[q - 1] {
            q -= 1;
            if q == 0 {
                start = i;
                break;
            }
        }
    }

    let file_name_start = path.rfind('/').map(|i| path[..=i].chars().count()).unwrap_or(0);
    let mut score = 0;
    let mut q = 0;
    let mut previous: Option<usize> = None;
    let mut all_in_file_name = true;
    for (i, &c) in lower.iter().enumerate().take(end + 1).skip(start) {
        if q == query.len() {
            break;
        }
        if c != query[q] {
            continue;
        }
        score += SCORE_MATCH + boundary_bonus(&text, i);
        match previous {
            Some(p) if p + 1 == i => score += BONUS_CONSECUTIVE,
            Some(p) => score -= PENALTY_GAP * (i - p - 1) as i64,
            None => {}
        }
        if i == 0 {
            score += BONUS_FIRST_CHAR;
        }
        all_in_file_name &= i >= file_name_start;
        previous = Some(i);
        q += 1;
    }
    if all_in_file_name {
        score += BONUS_IN_FILE_NAME;
    }
    Some(score - text.len() as i64 / 4)
}

/// The bonus for a match at `i`: the start of a path segment or of a word.
fn boundary_bonus(text: &[char], i: usize) -> i64 {
    let Some(&before) = i.checked_sub(1).and_then(|j| text.get(j)) else {
        return BONUS_SEGMENT_START;
    };
    let here = text[i];
    if before == '/' {
        BONUS_SEGMENT_START
    } else if matches!(before, '_' | '-' | '.' | ' ') || (before.is_lowercase() && here.is_uppercase()) {
        BONUS_WORD_START
    } else {
        0
    }
}

/// Whether any segment of `path` is hidden (starts with a dot).
pub fn is_hidden(path: &str) -> bool {
    path.split('/').any(|segment| segment.starts_with('.') && segment != "." && segment != "..")
}

/// The best `limit` of `paths` for `query`, best first. An empty query keeps
/// the paths' order. Either way hidden paths come last unless the query
/// names hidden ones.
pub fn rank<'a>(query: &str, paths: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<&'a str> {
    let wants_hidden = query.starts_with('.') || query.contains("/.");
    let mut scored: Vec<(bool, i64, &str)> = paths
        .into_iter()
        .filter_map(|path| score(query, path).map(|s| (!wants_hidden && is_hidden(path), s, path)))
        .collect();
    if query.trim().is_empty() {
        scored.sort_by_key(|&(hidden, _, _)| hidden);
    } else {
        scored.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.len().cmp(&b.2.len())).then(a.2.cmp(b.2)));
    }
    scored.into_iter().take(limit).map(|(_, _, path)| path).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_must_appear_in_order() {
        assert!(score("mrs", "src/main.rs").is_some());
        assert!(score("srm", "src/main.rs").is_some());
        assert!(score("xyz", "src/main.rs").is_none());
        assert!(score("rsm", "src/main.rs").is_none());
    }

    #[test]
    fn case_and_spaces_are_ignored() {
        assert!(score("MAIN", "src/main.rs").is_some());
        assert!(score("main rs", "src/main.rs").is_some());
    }

    #[test]
    fn the_file_name_beats_a_folder_name() {
        let ranked = rank("main", ["main/util.rs", "src/main.rs"], 10);
        assert_eq!(ranked, ["src/main.rs", "main/util.rs"]);
    }

    #[test]
    fn segment_and_word_starts_beat_letters_in_the_middle() {
        let ranked = rank("fb", ["src/afoobar.rs", "src/foo_bar.rs"], 10);
        assert_eq!(ranked[0], "src/foo_bar.rs");
        let ranked = rank("gc", ["src/agcd.rs", "src/GetConfig.ts"], 10);
        assert_eq!(ranked[0], "src/GetConfig.ts");
    }

    #[test]
    fn consecutive_letters_beat_scattered_ones() {
        let ranked = rank("read", ["src/r_e_a_d.rs", "src/reader.rs"], 10);
        assert_eq!(ranked[0], "src/reader.rs");
    }

    #[test]
    fn shorter_paths_win_ties() {
        let ranked = rank("lib", ["a/b/c/lib.rs", "lib.rs"], 10);
        assert_eq!(ranked, ["lib.rs", "a/b/c/lib.rs"]);
    }

    #[test]
    fn hidden_paths_come_last_unless_asked_for() {
        let paths = [".github/workflows/ci.yml", "ci/run.sh"];
        assert_eq!(rank("ci", paths, 10), ["ci/run.sh", ".github/workflows/ci.yml"]);
        assert_eq!(rank(".gi", paths, 10), [".github/workflows/ci.yml"]);
        assert_eq!(rank("", [".env", "a.txt", "b.txt"], 10), ["a.txt", "b.txt", ".env"]);
    }

    #[test]
    fn the_limit_is_respected() {
        let paths: Vec<String> = (0..50).map(|i| format!("file{i}.txt")).collect();
        assert_eq!(rank("file", paths.iter().map(String::as_str), 7).len(), 7);
    }

    #[test]
    fn non_ascii_paths_are_matched_by_character() {
        assert!(score("über", "docs/Über.md").is_some());
        assert!(score("ü", "docs/naïve.md").is_none());
    }
}
