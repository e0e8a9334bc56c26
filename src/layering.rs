//! The import graph of the library is its pipeline: every top module may reach only the modules
//! below it (the pipeline of the crate docs in lib.rs). This test reads every library source
//! file, collects the top modules it names through `crate::X`, `use crate::{X, …}`, `corrflow::X`
//! (doc examples) and `super::` paths that leave its top module, and checks them against
//! [`PIPELINE`] and [`LOW`]. The binary (main.rs, cli/, bin/) sits on top and is not checked; a
//! module that lib.rs declares but the layering does not place fails the test.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The pipeline, lowest first: each module may import every module before it and every low
/// module. `config` (the run configuration) and `command` (the library half of each subcommand) sit
/// between `report` and `sweep`.
const PIPELINE: [&str; 11] = [
    "data",
    "stats",
    "net",
    "propagate",
    "measure",
    "cumtrain",
    "analysis",
    "report",
    "config",
    "command",
    "sweep",
];

/// Low modules, usable by every pipeline module, with what each of them may import itself.
const LOW: [(&str, &[&str]); 6] = [
    ("error", &[]),
    ("io", &["error"]),
    ("linalg", &["error"]),
    ("special", &["error"]),
    ("simd", &["error", "special"]),
    ("timing", &["error", "simd"]),
];

/// The top modules `module` may import (besides itself), or None for a module the layering
/// does not know.
fn allowed(module: &str) -> Option<BTreeSet<&'static str>> {
    if let Some((_, deps)) = LOW.iter().find(|(m, _)| *m == module) {
        return Some(deps.iter().copied().collect());
    }
    let rank = PIPELINE.iter().position(|m| *m == module)?;
    Some(
        PIPELINE[..rank]
            .iter()
            .copied()
            .chain(LOW.iter().map(|(m, _)| *m))
            .collect(),
    )
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The leading identifier of `s` (letters, digits, `_`).
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The identifiers at the top level of the brace group that `s` starts with (`{a, b::c, d}` →
/// a, b, d).
fn group_heads(s: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => {
                depth += 1;
                item_start = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => item_start = true,
            c if item_start && depth == 1 && !c.is_whitespace() => {
                heads.push(ident(&s[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    heads
}

/// The crate-root names that `text` reaches through `prefix` (`crate::` or `corrflow::`).
fn root_names<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut names = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &text[at + prefix.len()..];
        if rest.starts_with('{') {
            names.extend(group_heads(rest));
        } else {
            names.push(ident(rest));
        }
    }
    names
}

/// The crate-root names reached by `super::` chains that climb out of the file's module, whose
/// path below `src` is `depth` modules deep (src/a/b.rs and src/a/b/mod.rs: 2).
fn escaping_super(text: &str, depth: usize) -> Vec<&str> {
    let mut names = Vec::new();
    for (at, _) in text.match_indices("super::") {
        if text[..at].ends_with("super::") {
            continue;
        }
        let mut rest = &text[at..];
        let mut climbs = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = r;
        }
        if climbs >= depth {
            if rest.starts_with('{') {
                names.extend(group_heads(rest));
            } else {
                names.push(ident(rest));
            }
        }
    }
    names
}

/// The top module a root name belongs to: a module declared in lib.rs, or the module a
/// `pub use` of lib.rs re-exports it from (`Error` → `error`).
fn top_of<'a>(name: &'a str, lib: &'a str) -> Option<&'a str> {
    let declared = lib.lines().any(|l| {
        let l = l.trim();
        l == format!("pub mod {name};") || l == format!("mod {name};")
    });
    if declared {
        return Some(name);
    }
    lib.lines().find_map(|l| {
        let l = l.trim().strip_prefix("pub use ")?;
        let module = ident(l);
        let items = l[module.len()..].strip_prefix("::")?;
        let listed = if items.starts_with('{') {
            group_heads(items).contains(&name)
        } else {
            ident(items) == name
        };
        listed.then_some(module)
    })
}

/// Every violation of the layering in the library under `src`, as readable lines.
fn violations(src: &Path) -> Vec<String> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("lib.rs is readable");
    let mut bad = Vec::new();
    for l in lib.lines() {
        let l = l.trim();
        if let Some(m) = l.strip_prefix("pub mod ").or(l.strip_prefix("mod ")) {
            let m = ident(m);
            if m != "layering" && allowed(m).is_none() {
                bad.push(format!(
                    "lib.rs declares `{m}`, which the layering does not place"
                ));
            }
        }
    }
    let mut files = Vec::new();
    rust_files(src, &mut files);
    for file in files {
        let rel = file.strip_prefix(src).expect("file under src");
        let parts: Vec<&str> = rel
            .iter()
            .map(|p| p.to_str().expect("UTF-8 path"))
            .collect();
        let top = parts[0].trim_end_matches(".rs");
        // The binary (main.rs, cli/, bin/) sits on top of the library; lib.rs is the root.
        if ["main", "cli", "bin", "lib", "layering"].contains(&top) {
            continue;
        }
        let depth = if parts.last() == Some(&"mod.rs") {
            parts.len() - 1
        } else {
            parts.len()
        };
        let text = fs::read_to_string(&file).expect("source is readable");
        let mut names = root_names(&text, "crate::");
        names.extend(root_names(&text, "corrflow::"));
        names.extend(escaping_super(&text, depth));
        let allowed_here = allowed(top);
        for name in names {
            if name.is_empty() || name == "*" {
                continue;
            }
            let target = top_of(name, &lib);
            let ok = match (target, &allowed_here) {
                (Some(t), Some(a)) => t == top || a.contains(t),
                _ => false,
            };
            if !ok {
                bad.push(format!(
                    "{}: `{top}` reaches `{}`",
                    rel.display(),
                    target.unwrap_or(name)
                ));
            }
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn group_and_super_paths_are_seen() {
    assert_eq!(
        group_heads("{Error, net::{Mlp, Layer}, stats::Moments}"),
        ["Error", "net", "stats"]
    );
    assert_eq!(
        root_names("use crate::{a, b::c};\nx = crate::d::e;", "crate::"),
        ["a", "b", "d"]
    );
    assert!(root_names("use mycrate::a;", "crate::").is_empty());
    assert_eq!(escaping_super("use super::super::net::Mlp;", 2), ["net"]);
    assert!(escaping_super("use super::Moments;", 2).is_empty());
}
