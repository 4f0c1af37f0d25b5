//! Issue 37: the product code's imports point one way. This reads every file of
//! `src-tauri/src` as a plan of who uses whom and fails on:
//! - an import circle between files (each file in a circle is named, with what it uses);
//! - a file that imports a higher layer than its own (see `LAYERS`);
//! - anything that imports the crate root (`lib.rs` declares modules and the two entry points).
//!
//! What counts as a use: every path through `crate::`, `super::` or `self::`, and every path
//! through a child module, in `use` lines and in code, outside comments and strings. A
//! folder's `pub use child::…` re-export is its front door and is not a use; the parent's
//! own code calling a child is. `super::` inside an inline `mod tests { … }` means the file
//! itself.
//!
//! A maintained tool was considered first: `cargo-modules dependencies --acyclic` reports
//! module cycles, but it has no notion of layers, so the layer rule would need a test of its
//! own anyway. It was not installed; the whole rule lives here.
//!
//! `LATCHKEY_LAYERS_SRC` points the check at another tree (to show it failing on old code).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom to top. A file may use its own layer and those below it.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaf modules: secrets, clock, paths, text, network settings",
        &["secret", "clock", "paths", "text", "network_settings"],
    ),
    (
        "provider: the model, and the link format",
        &["provider", "link"],
    ),
    (
        "platform: each OS difference, and what builds on it alone",
        &["platform", "browser", "logging", "install", "activity"],
    ),
    ("vault: the credential store and the index", &["vault"]),
    ("oauth: the protocol", &["oauth"]),
    (
        "accounts: the use cases, and their errors in words",
        &["accounts", "errors"],
    ),
    (
        "refresh, mcp, ask: the long-running services over accounts",
        &["refresh", "mcp", "ask"],
    ),
    (
        "cli / desktop: the two faces, and how a process starts",
        &["cli", "desktop", "launch"],
    ),
];

/// One file's uses: target file → the paths that reach it.
type Uses = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    match std::env::var_os("LATCHKEY_LAYERS_SRC") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/src"),
    }
}

fn rust_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read the source folder") {
        let p = e.expect("a folder entry").path();
        if p.is_dir() {
            rust_files(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            // The two programs' `main` files are crate roots of their own.
            if rel != "main.rs" && rel != "desktop_main.rs" {
                out.push(rel);
            }
        }
    }
}

/// `oauth/dpop.rs` → `["oauth", "dpop"]`; `vault/mod.rs` → `["vault"]`; `lib.rs` → `[]`.
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The source with comments, strings and char literals blanked (same length, so positions
/// still line up with the original text).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in out.iter_mut().take(to).skip(from) {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            let end = src[i..].find('\n').map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let end = src[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'r'
            && (b[i..].starts_with(b"r\"") || b[i..].starts_with(b"r#"))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 2 + hashes;
            let end = src[start..]
                .find(&close)
                .map_or(b.len(), |n| start + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, (j + 1).min(b.len()));
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let end = if b.get(i + 1) == Some(&b'\\') {
                src[i + 2..].find('\'').map(|n| i + 2 + n + 1)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 3)
            } else {
                src[i + 1..]
                    .chars()
                    .next()
                    .filter(|c| c.len_utf8() > 1)
                    .and_then(|c| {
                        (b.get(i + 1 + c.len_utf8()) == Some(&b'\'')).then(|| i + 2 + c.len_utf8())
                    })
            };
            match end {
                Some(e) => {
                    blank(&mut out, i, e);
                    i = e;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).expect("blanking keeps UTF-8")
}

/// The spans of inline `mod name { … }` blocks.
fn inline_mods(code: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let words: Vec<(usize, &str)> = word_spans(code);
    for w in words.windows(2) {
        if w[0].1 == "mod" {
            let after = w[1].0 + w[1].1.len();
            let rest = code[after..].trim_start();
            if rest.starts_with('{') {
                let open = code.len() - rest.len();
                let mut depth = 0usize;
                for (k, c) in code[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                spans.push((open, open + k));
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    spans
}

fn word_spans(code: &str) -> Vec<(usize, &str)> {
    let mut v = Vec::new();
    let mut start = None;
    for (i, c) in code.char_indices() {
        let w = c.is_ascii_alphanumeric() || c == '_';
        match (w, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                v.push((s, &code[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        v.push((s, &code[s..]));
    }
    v
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}}`) into its paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<String> {
        let (mut depth, mut cur, mut items) = (0, String::new(), Vec::new());
        for c in s.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if c == ',' && depth == 0 {
                items.push(std::mem::take(&mut cur));
            } else {
                cur.push(c);
            }
        }
        items.push(cur);
        items
    }
    fn rec(prefix: &[String], body: &str, out: &mut Vec<Vec<String>>) {
        for item in split_top(body) {
            let item: String = item.split_whitespace().collect::<Vec<_>>().join(" ");
            if item.is_empty() {
                continue;
            }
            if let Some(open) = item.find('{') {
                let head = item[..open].trim_end_matches("::");
                let inner = &item[open + 1..item.rfind('}').unwrap_or(item.len())];
                let mut p = prefix.to_vec();
                p.extend(
                    head.split("::")
                        .filter(|s| !s.is_empty())
                        .map(|s| s.trim().to_string()),
                );
                rec(&p, inner, out);
            } else {
                let path = item.split(" as ").next().unwrap_or("").trim();
                let mut p = prefix.to_vec();
                p.extend(
                    path.split("::")
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    rec(&[], tree, &mut out);
    out
}

/// Every file's uses of other files.
fn graph(root: &Path) -> BTreeMap<String, Uses> {
    let mut files = Vec::new();
    rust_files(root, root, &mut files);
    files.sort();
    let modules: BTreeMap<Vec<String>, String> =
        files.iter().map(|f| (module_path(f), f.clone())).collect();
    let resolve = |path: &[String]| -> Option<String> {
        (0..=path.len())
            .rev()
            .find_map(|i| modules.get(&path[..i]).cloned())
    };
    let mut g = BTreeMap::new();
    for f in &files {
        let src = std::fs::read_to_string(root.join(f)).expect("read a source file");
        let code = code_only(&src);
        let me = module_path(f);
        let mods = inline_mods(&code);
        let depth_at = |pos: usize| mods.iter().filter(|(a, b)| *a < pos && pos < *b).count();
        let mut paths: Vec<(usize, Vec<String>)> = Vec::new();
        // `use` statements (with groups), minus a folder's re-exports of its children.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        let mut reexported: Vec<(String, Vec<String>)> = Vec::new();
        let mut search = 0;
        while let Some(n) = code[search..].find("use ") {
            let at = search + n;
            search = at + 4;
            let before = code[..at].trim_end();
            let word_start = at == 0
                || !code.as_bytes()[at - 1].is_ascii_alphanumeric()
                    && code.as_bytes()[at - 1] != b'_';
            if !word_start {
                continue;
            }
            let Some(end) = code[at..].find(';').map(|e| at + e) else {
                continue;
            };
            let tree = code[at + 4..end].trim();
            covered.push((at, end));
            let reexport =
                before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
            let first = tree.split("::").next().unwrap_or("").trim();
            if reexport && !matches!(first, "crate" | "super" | "self") {
                // The front door is no use, but the parent's own code calling a name it
                // re-exports is.
                for p in expand_use(tree) {
                    if let Some(name) = p.last() {
                        reexported.push((name.clone(), p));
                    }
                }
                continue;
            }
            for p in expand_use(tree) {
                paths.push((at, p));
            }
        }
        // Paths in code.
        let words = word_spans(&code);
        for (pos, w) in &words {
            let in_use = covered.iter().any(|(a, b)| a <= pos && pos <= b);
            let after_dot_or_path = *pos >= 1 && matches!(code.as_bytes()[pos - 1], b'.' | b':');
            let declared = code[..*pos].trim_end().ends_with("mod");
            let rest = &code[pos + w.len()..];
            let a_field = rest.starts_with(':') && !rest.starts_with("::");
            if in_use || after_dot_or_path || declared || a_field {
                continue;
            }
            if let Some((_, p)) = reexported.iter().find(|(name, _)| name == w) {
                paths.push((*pos, p.clone()));
            }
        }
        for (k, (pos, w)) in words.iter().enumerate() {
            if covered.iter().any(|(a, b)| a <= pos && pos <= b) {
                continue;
            }
            let preceded_by_path = *pos >= 2 && &code[pos - 2..*pos] == "::";
            if preceded_by_path || !code[pos + w.len()..].starts_with("::") {
                continue;
            }
            let mut p = vec![w.to_string()];
            let mut end = pos + w.len();
            for (npos, nw) in &words[k + 1..] {
                if *npos == end + 2 && &code[end..*npos] == "::" {
                    p.push(nw.to_string());
                    end = npos + nw.len();
                } else {
                    break;
                }
            }
            paths.push((*pos, p));
        }
        let mut uses: Uses = BTreeMap::new();
        for (pos, p) in paths {
            let inline = depth_at(pos);
            let mut base: Vec<String> = me.clone();
            base.extend((0..inline).map(|_| "<inline>".to_string()));
            let mut rest: &[String] = &p;
            let absolute = match p[0].as_str() {
                "crate" => {
                    base.clear();
                    rest = &p[1..];
                    true
                }
                "super" => {
                    while rest.first().map(String::as_str) == Some("super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    true
                }
                "self" => {
                    rest = &p[1..];
                    true
                }
                _ => false,
            };
            if !absolute {
                // A child module of this file, named directly.
                let mut child = me.clone();
                child.push(p[0].clone());
                if inline > 0 || !modules.contains_key(&child) {
                    continue;
                }
            }
            base.retain(|s| s != "<inline>");
            let mut full = base;
            full.extend(rest.iter().cloned());
            if let Some(target) = resolve(&full) {
                if &target != f {
                    uses.entry(target).or_default().insert(p.join("::"));
                }
            }
        }
        g.insert(f.clone(), uses);
    }
    g
}

fn layer_of(file: &str) -> Option<usize> {
    let top = file
        .split('/')
        .next()
        .unwrap_or(file)
        .trim_end_matches(".rs");
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

/// Import circles (strongly connected components of two or more files).
fn circles(g: &BTreeMap<String, Uses>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, Uses>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        for w in g.get(v).map(|u| u.keys()).into_iter().flatten() {
            let w = w.as_str();
            if !g.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// Everything wrong with a tree, one line each.
fn problems(root: &Path) -> Vec<String> {
    let g = graph(root);
    let mut out = Vec::new();
    for comp in circles(&g) {
        let inside: BTreeSet<&String> = comp.iter().collect();
        let mut s = format!("import circle between {} files:", comp.len());
        for a in &comp {
            for (b, via) in &g[a] {
                if inside.contains(b) {
                    let via: Vec<&String> = via.iter().take(3).collect();
                    s.push_str(&format!(
                        "\n    {a} -> {b} ({})",
                        via.iter()
                            .map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        out.push(s);
    }
    for (a, uses) in &g {
        for (b, via) in uses {
            let via = via.iter().next().cloned().unwrap_or_default();
            if b == "lib.rs" {
                out.push(format!("{a} imports the crate root lib.rs ({via}); move what it needs into a leaf module"));
                continue;
            }
            match (layer_of(a), layer_of(b)) {
                (Some(la), Some(lb)) if lb > la => out.push(format!(
                    "{a} (layer {la}, {}) imports {b} (layer {lb}, {}) through {via}: a lower layer must not import a higher one",
                    LAYERS[la].0, LAYERS[lb].0
                )),
                (None, _) if a != "lib.rs" => out.push(format!("{a} is in no layer: add its module to LAYERS in tests/tests/layers.rs")),
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn imports_point_one_way_with_no_circle_and_no_upward_import() {
    let root = src_dir();
    let found = problems(&root);
    assert!(
        found.is_empty(),
        "{} problem(s) in {}:\n{}",
        found.len(),
        root.display(),
        found.join("\n")
    );
}

#[test]
fn every_product_module_has_a_layer() {
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &root, &mut files);
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| *f != "lib.rs" && layer_of(f).is_none())
        .collect();
    assert!(missing.is_empty(), "files in no layer: {missing:?}");
}

/// The check itself catches what it is for: a planted back-edge, a planted circle and a
/// planted import of the crate root, each named with both files.
#[test]
fn the_check_names_a_planted_back_edge_a_circle_and_a_crate_root_import() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, s: &str| {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    };
    w(
        "lib.rs",
        "pub mod vault;\npub mod accounts;\npub mod secret;\npub fn now() -> i64 { 0 }\n",
    );
    w("secret.rs", "pub struct Secret;\n// crate::accounts::Accounts in a comment is no use\nconst S: &str = \"crate::accounts::X\";\n");
    w(
        "vault/mod.rs",
        "mod record;\nmod lock;\npub use record::Record;\n",
    );
    w("vault/record.rs", "use crate::accounts::Accounts;\nuse super::lock::Lock;\npub struct Record;\n#[cfg(test)]\nmod tests { use super::*; }\n");
    w(
        "vault/lock.rs",
        "pub struct Lock(super::record::Record);\nfn t() -> i64 { crate::now() }\n",
    );
    w(
        "accounts/mod.rs",
        "mod save;\nuse crate::vault::Record;\nuse crate::secret::Secret;\npub use save::save;\npub struct Accounts;\npub fn helper() { save() }\n",
    );
    w(
        "accounts/save.rs",
        "pub fn save() {}\npub fn x() { super::helper() }\n",
    );
    let found = problems(dir.path()).join("\n");
    assert!(
        found.contains("vault/record.rs (layer 3")
            && found.contains("imports accounts/mod.rs (layer 5"),
        "{found}"
    );
    assert!(
        found.contains("import circle between 2 files")
            && found.contains("vault/lock.rs -> vault/record.rs")
            && found.contains("vault/record.rs -> vault/lock.rs"),
        "{found}"
    );
    assert!(
        found.contains("vault/lock.rs imports the crate root lib.rs (crate::now)"),
        "{found}"
    );
    assert!(
        !found.contains("secret.rs imports") && !found.contains("secret.rs (layer"),
        "comments and strings are no use: {found}"
    );
    assert!(
        !found.contains("vault/mod.rs ->"),
        "a folder's re-export is no use: {found}"
    );
    assert!(
        found.contains("accounts/mod.rs -> accounts/save.rs (save::save)")
            && found.contains("accounts/save.rs -> accounts/mod.rs (super::helper)"),
        "a parent calling what it re-exports is a use: {found}"
    );
}
