//! The host's layers, read off its imports: every `crate::module` a file of
//! `gateway/src` names (outside its tests) is an edge from its top-level
//! module. The graph has no cycle, and nothing below the HTTP layer imports
//! it or the `App` it holds: domain code takes the narrow things it needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The composition roots: they assemble everything, so they may import all.
const ROOTS: [&str; 4] = ["lib", "main", "cli", "serve"];

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
            let module = first.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            // A file's own tests may reach anything.
            let code = text.split("#[cfg(test)]").next().unwrap();
            let edges = graph.entry(module.clone()).or_default();
            for line in code.lines().map(|l| l.split("//").next().unwrap()) {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let names: Vec<&str> = match rest.strip_prefix('{') {
                        // `use crate::{a, b::c}`: each group's first name.
                        Some(group) => group.split(',').map(|g| g.trim().split("::").next().unwrap()).collect(),
                        None => vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap()],
                    };
                    for name in names.into_iter().filter(|n| !n.is_empty() && *n != module) {
                        edges.insert(name.trim_end_matches('}').to_string());
                    }
                }
            }
        }
    }
    graph
}

#[test]
fn layers_import_downwards_only() {
    let graph = module_graph();
    for module in ["api", "app", "session", "agent", "conversation", "store", "events", "sandbox", "workspace"] {
        assert!(graph.contains_key(module), "the graph reads {module}: {graph:?}");
    }
    // Nothing below the HTTP layer reaches it, or the App it holds.
    for (module, edges) in &graph {
        if ROOTS.contains(&module.as_str()) || module == "api" {
            continue;
        }
        assert!(!edges.contains("api"), "{module} imports api");
        if module != "app" {
            assert!(!edges.contains("app"), "{module} imports the whole App");
        }
    }
    // No cycle among the rest: a depth-first walk never meets a module on its own path.
    fn walk<'g>(
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        module: &'g str,
        path: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
    ) {
        if let Some(at) = path.iter().position(|m| *m == module) {
            panic!("a cycle: {}", [&path[at..], &[module]].concat().join(" -> "));
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if !ROOTS.contains(&next.as_str()) {
                walk(graph, next, path, done);
            }
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in graph.keys().filter(|m| !ROOTS.contains(&m.as_str())) {
        walk(&graph, module, &mut Vec::new(), &mut done);
    }
}
