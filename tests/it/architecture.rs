//! Architecture invariants (ARCHITECTURE.md), checked: the workspace's crate graph from
//! `cargo metadata`, and the import rules inside the root crate from its sources. Each test
//! names the rule it holds; breaking the rule fails it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A dependency on another workspace crate: (name, kind, optional); kind is "normal", "dev" or
/// "build".
type Edge = (String, String, bool);

/// The workspace's packages as `cargo metadata` describes them.
fn packages() -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--no-deps"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    meta["packages"].as_array().expect("packages").clone()
}

/// The workspace's packages with a normal (not dev, not build) dependency on `crate_name`.
fn normal_dependents(crate_name: &str) -> Vec<String> {
    let depends = |p: &serde_json::Value| {
        p["dependencies"].as_array().into_iter().flatten().any(|d| d["name"] == crate_name && d["kind"].is_null())
    };
    packages().iter().filter(|p| depends(p)).map(|p| p["name"].as_str().unwrap_or_default().to_string()).collect()
}

/// A package's normal dependencies on other workspace crates.
fn workspace_dependencies(package: &str) -> Vec<String> {
    let edges = workspace_edges();
    let (_, deps) = edges.iter().find(|(name, _)| name == package).unwrap_or_else(|| panic!("no crate {package}"));
    deps.iter().filter(|(_, kind, _)| kind == "normal").map(|(n, _, _)| n.clone()).collect()
}

/// The workspace's packages, each with its dependencies on other workspace crates.
fn workspace_edges() -> Vec<(String, Vec<Edge>)> {
    packages()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["path"].is_string())
                .map(|d| {
                    let kind = d["kind"].as_str().unwrap_or("normal").to_string();
                    (d["name"].as_str().unwrap_or_default().to_string(), kind, d["optional"].as_bool() == Some(true))
                })
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect()
}

/// Architecture invariant: the sandbox depends on no workspace crate. It stands in for
/// Zendesk and GitHub and knows only their contracts (it signs its webhook deliveries with its
/// own HMAC code, so a bug in the receiver's check shows in the webhook tests).
#[test]
fn the_sandbox_depends_on_no_workspace_crate() {
    let edges = workspace_edges();
    let sandbox = edges.iter().find(|(name, _)| name == "ticket-sync-sandbox").expect("the sandbox crate");
    assert!(sandbox.1.is_empty(), "the sandbox depends on {:?}", sandbox.1);
}

/// Architecture invariant: the core (domain types, rules as data, planners, texts) depends on
/// no workspace crate and on no runtime, HTTP or database crate, not even through another
/// crate; and it never reads the host's clock (its times are typed values handed to it).
#[test]
fn the_core_depends_on_no_workspace_crate_runtime_http_or_database() {
    let edges = workspace_edges();
    let core = edges.iter().find(|(name, _)| name == "ticket-sync-core").expect("the core crate");
    assert!(core.1.iter().all(|(_, kind, _)| kind != "normal"), "the core depends on {:?}", core.1);
    let out = std::process::Command::new(env!("CARGO"))
        .args(["tree", "-p", "ticket-sync-core", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    for forbidden in ["tokio", "reqwest", "rusqlite", "axum", "hyper", "ticket-sync", "ticket-sync-sandbox"] {
        let found: Vec<&str> = tree.lines().filter(|l| l.starts_with(&format!("{forbidden} v"))).collect();
        assert!(found.is_empty(), "the core depends on {found:?}");
    }
    // The planners take time as an argument: no module of the core but `clock.rs` names the clock.
    for file in rust_files(&root().join("crates/core/src")) {
        if file.ends_with("clock.rs") || file.ends_with("lib.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for form in ["Utc::now", "clock::", "SystemTime::now", "Local::now"] {
            assert!(!code.contains(form), "{} reads the host's clock ({form})", file.display());
        }
    }
}

/// Architecture invariant: the host's clock is read in one place, `ticket_sync_core::clock::now`;
/// the product, the clients and the store ask it (their unit tests and the sandbox, a service
/// with its own clock, aside).
#[test]
fn the_hosts_clock_is_read_in_one_place() {
    for dir in ["src", "crates/core/src", "crates/clients/src", "crates/store/src"] {
        for file in rust_files(&root().join(dir)) {
            if file.ends_with("core/src/clock.rs") || file.ends_with("tests.rs") {
                continue;
            }
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            for form in ["Utc::now", "SystemTime::now", "Local::now"] {
                assert!(!code.contains(form), "{} reads the host's clock itself ({form})", file.display());
            }
        }
    }
}

/// Architecture invariant: the store depends on the core only of ticket-sync's crates, and it
/// is the only crate that runs SQL: `rusqlite` is a normal dependency of the store alone, and
/// no other crate's sources name it.
#[test]
fn only_the_store_runs_sql_and_it_depends_on_the_core_alone() {
    assert_eq!(workspace_dependencies("ticket-sync-store"), ["ticket-sync-core"]);
    assert_eq!(normal_dependents("rusqlite"), ["ticket-sync-store"]);
    for dir in ["src", "crates/core/src", "crates/sandbox/src"] {
        for file in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(!text.contains("rusqlite::"), "{} runs SQL", file.display());
        }
    }
}

/// Architecture invariant: the clients depend on the core alone of ticket-sync's crates (never
/// the store, nor the store on them: rate-limit blocks reach the store through the clients'
/// `BlockStore` trait), and only the clients talk HTTP to the services: `reqwest` is a normal
/// dependency of the clients and of the sandbox (a stand-in that sends webhooks) alone, so the
/// compiler refuses a `reqwest::` anywhere else in the product.
#[test]
fn only_the_clients_talk_http_and_they_depend_on_the_core_alone() {
    assert_eq!(workspace_dependencies("ticket-sync-clients"), ["ticket-sync-core"]);
    let mut http = normal_dependents("reqwest");
    http.sort();
    assert_eq!(http, ["ticket-sync-clients", "ticket-sync-sandbox"]);
}

/// Architecture invariant: the product reaches the sandbox only through the `demo` feature
/// (an optional dependency; tests and benches take it as a dev-dependency), so
/// `--no-default-features` builds a binary without any fake service (.ci/run builds it).
#[test]
fn the_product_reaches_the_sandbox_only_through_the_demo_feature() {
    let edges = workspace_edges();
    let product = edges.iter().find(|(name, _)| name == "ticket-sync").expect("the root crate");
    for (name, kind, optional) in &product.1 {
        if name == "ticket-sync-sandbox" && kind == "normal" {
            assert!(optional, "the sandbox is a non-optional dependency of the product");
        }
    }
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let table: toml::Table = manifest.parse().unwrap();
    assert_eq!(table["features"]["demo"].as_array().unwrap()[0].as_str(), Some("dep:ticket-sync-sandbox"));
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    assert!(lib.contains("#[cfg(feature = \"demo\")]\npub mod demo;"), "demo.rs is compiled only with the feature");
    for file in rust_files(&root().join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("ticket_sync_sandbox") {
            assert!(file.ends_with("demo.rs"), "{} uses the sandbox", file.display());
        }
    }
}

/// Architecture invariant: passes never import each other (escalate, pushback, forward,
/// audit), in any form of path (`super::x`, `super::{x, y}`, `crate::sync::x`, …: read from
/// `src/sync/`'s module graph); what two passes share lives in the shared helpers (`notes.rs`,
/// `note.rs`, …). `reescalate.rs` and `link.rs` are parts of escalation, not passes: only
/// `escalate.rs` imports them.
#[test]
fn passes_never_import_each_other() {
    const PASSES: [&str; 4] = ["escalate", "pushback", "forward", "audit"];
    let sync = Crate::read(&root().join("src")).graph(&["sync"]);
    for pass in PASSES {
        let imports = sync.get(pass).unwrap_or_else(|| panic!("no pass {pass} in src/sync/: {sync:?}"));
        let passes: Vec<&&str> = PASSES.iter().filter(|other| imports.contains(**other)).collect();
        assert!(passes.is_empty(), "src/sync/{pass}.rs imports the passes {passes:?}");
    }
    for (part, pass) in [("reescalate", "escalate"), ("link", "escalate"), ("fixes", "pushback")] {
        let importers: Vec<&String> = sync.iter().filter(|(_, uses)| uses.contains(part)).map(|(m, _)| m).collect();
        assert_eq!(importers, [pass], "src/sync/{part}.rs is a part of {pass}");
    }
}

/// Serde's data formats (crate paths) ticket-sync could (de)serialise with; none but JSON and
/// TOML is a dependency today, and a new one is caught wherever it is named.
const DATA_FORMATS: [&str; 20] = [
    "serde_json",
    "toml",
    "serde_yaml",
    "serde_yml",
    "bincode",
    "rmp_serde",
    "ciborium",
    "serde_cbor",
    "postcard",
    "ron",
    "csv",
    "serde_urlencoded",
    "serde_qs",
    "quick_xml",
    "serde_xml_rs",
    "json5",
    "simd_json",
    "sonic_rs",
    "bson",
    "serde_pickle",
];

/// Architecture invariant: persisted payloads are serialised and read back only in the store
/// (`crates/store/src/payload.rs` for intents, its typed accessors for the rest). The passes
/// and their helpers (`src/sync/`) hand the store typed values: they name no (de)serialiser of
/// any data format (a pass's summary is a `serde_json::json!` value the store writes), write
/// none by hand (`Serializer`, `serde::ser`) and derive no `Deserialize`; nowhere else in the
/// product or the core is serialised text read back but where it arrives: JSON in the webhook
/// receiver, which decodes deliveries, and TOML in `config/`, which reads the rules file (the
/// clients decode their own wire shapes and the sandbox is a stand-in: neither reaches the
/// store); and no type (`struct`, `enum`, `type`, `trait`) named `…Payload` is defined outside
/// the store.
#[test]
fn persisted_payloads_are_serialised_and_read_only_in_the_store() {
    for file in rust_files(&root().join("src/sync")) {
        let Some(code) = production_code(&file) else { continue };
        for format in DATA_FORMATS {
            for (at, _) in code.match_indices(&format!("{format}::")) {
                if code[..at].ends_with(is_ident) {
                    continue; // `mytoml::`
                }
                let rest = &code[at + format.len()..];
                assert!(
                    format == "serde_json" && (rest.starts_with("::json!") || rest.starts_with("::Value")),
                    "{} (de)serialises with {format}{}: hand the store a typed value",
                    file.display(),
                    rest.lines().next().unwrap_or_default()
                );
            }
        }
        for form in ["Deserialize", "Serializer", "serde::ser", "serde::de"] {
            assert!(!code.contains(form), "{} (de)serialises a shape itself ({form})", file.display());
        }
    }
    // Where serialised text may be read back outside the store, and in which format.
    let arrives = [("serde_json", "src/webhooks/receiver.rs"), ("toml", "src/config/")];
    for dir in ["src", "crates/core/src"] {
        for file in rust_files(&root().join(dir)) {
            let Some(code) = production_code(&file) else { continue };
            let rel = file.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
            for format in DATA_FORMATS {
                if arrives.iter().any(|(f, place)| *f == format && rel.starts_with(place)) {
                    continue;
                }
                let forms = ["::from_", "::de::", "::Deserializer"].map(|f| format!("{format}{f}"));
                let uses = ["::{", "::from_"].map(|f| format!("use {format}{f}"));
                for form in forms.iter().chain(&uses) {
                    let named = code.match_indices(form.as_str()).any(|(at, _)| !code[..at].ends_with(is_ident));
                    assert!(!named, "{rel} reads {format} text back ({form}): only the store does");
                }
                for (_, tree) in use_declarations(&code) {
                    for (path, _) in use_tree(&tree) {
                        let reads = path.first().is_some_and(|c| c == format)
                            && path.iter().any(|s| s.starts_with("from_") || s == "de" || s == "Deserializer");
                        assert!(
                            !reads,
                            "{rel} reads {format} text back (use {}): only the store does",
                            path.join("::")
                        );
                    }
                }
            }
        }
    }
    for dir in ["src", "crates/core/src", "crates/clients/src"] {
        for file in rust_files(&root().join(dir)) {
            let Some(code) = production_code(&file) else { continue };
            assert_eq!(
                payload_types(&code),
                Vec::<String>::new(),
                "{} defines a payload shape: the store's payload.rs holds them",
                file.display()
            );
        }
    }
}

/// The types (`struct`, `enum`, `union`, `type`, `trait`) `code` defines whose name ends with
/// `Payload`.
fn payload_types(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for keyword in ["struct ", "enum ", "union ", "type ", "trait "] {
        for (at, _) in code.match_indices(keyword) {
            if code[..at].ends_with(is_ident) {
                continue;
            }
            let name = word(code[at + keyword.len()..].trim_start());
            if name.ends_with("Payload") {
                found.push(name);
            }
        }
    }
    found
}

/// A file's code without its comment lines and without what `#[cfg(test)]` annotates: a test
/// module to its closing brace, a one-line `mod x;`, a test-only fn or impl to its closing
/// brace. The sources are formatted by rustfmt, so an item ends on the first line back at its
/// indentation.
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut code = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        if let Some(rest) = line.strip_prefix("#[cfg(test)]") {
            // The item starts on the attribute's line or after its other attributes and docs.
            let mut start = i;
            if rest.trim().is_empty() {
                start += 1;
                while lines.get(start).is_some_and(|l| {
                    let l = l.trim_start();
                    l.is_empty() || l.starts_with("#[") || l.starts_with("//")
                }) {
                    start += 1;
                }
            }
            i = item_end(&lines, start.min(lines.len().saturating_sub(1))) + 1;
        } else {
            if !line.starts_with("//") {
                code.push(lines[i]);
            }
            i += 1;
        }
    }
    code.join("\n")
}

/// The line on which the item starting on line `start` ends: the item's own line when it ends
/// there (`mod x;`, `fn f() {}`), else the closing line back at its indentation (`}`, `];`; a
/// signature's `) -> T {`, a `where` clause or its `{` do not end it).
fn item_end(lines: &[&str], start: usize) -> usize {
    let indentation = |l: &str| l.len() - l.trim_start().len();
    let (indent, first) = (indentation(lines[start]), lines[start].trim());
    let balanced = first.matches('{').count() == first.matches('}').count();
    if balanced && (first.ends_with(';') || first.ends_with('}')) {
        return start;
    }
    let mut end = start;
    for (j, line) in lines.iter().enumerate().skip(start + 1) {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if indentation(line) > indent {
            end = j;
        } else if indentation(line) < indent {
            break;
        } else if text.starts_with("where") || text.starts_with('{') {
            end = j;
        } else if text.starts_with(['}', ')', ']']) {
            end = j;
            if !text.ends_with('{') {
                break;
            }
        } else {
            break;
        }
    }
    end
}

/// A source file's production code (`code_of`), or `None` for a file that is test code: its
/// module is declared only under `#[cfg(test)]`, or it sits in such a module.
fn production_code(file: &Path) -> Option<String> {
    (!is_test_code(file)).then(|| code_of(&std::fs::read_to_string(file).unwrap()))
}

/// Whether `file`'s module is declared only in test code, or is inside a module that is.
fn is_test_code(file: &Path) -> bool {
    let Some((parent, name)) = declared_in(file) else { return false };
    !declares_module(&code_of(&std::fs::read_to_string(&parent).unwrap()), &name) || is_test_code(&parent)
}

/// The file that declares `file`'s module (`mod name;`), with the module's name; `None` for a
/// crate root (`lib.rs`, `main.rs`) or a file no module declares.
fn declared_in(file: &Path) -> Option<(PathBuf, String)> {
    let stem = file.file_stem()?.to_string_lossy().into_owned();
    let dir = file.parent()?;
    let (name, dir) = match stem.as_str() {
        "lib" | "main" => return None,
        "mod" => (dir.file_name()?.to_string_lossy().into_owned(), dir.parent()?),
        _ => (stem, dir),
    };
    let named = dir.parent().zip(dir.file_name()).map(|(up, n)| up.join(format!("{}.rs", n.to_string_lossy())));
    let candidates = [dir.join("mod.rs"), dir.join("lib.rs"), dir.join("main.rs")].into_iter().chain(named);
    let parent =
        candidates.filter(|p| p.exists()).find(|p| declares_module(&std::fs::read_to_string(p).unwrap(), &name))?;
    Some((parent, name))
}

/// Whether `code` declares the module `name` from its own file (`mod name;`, `pub mod name;`, …).
fn declares_module(code: &str, name: &str) -> bool {
    let declaration = format!("mod {name};");
    code.lines()
        .any(|l| l.trim().strip_suffix(&declaration).is_some_and(|before| before.is_empty() || before.ends_with(' ')))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Modules, each with the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// A module's path from its crate's root: `["sync", "escalate"]`; the root is `[]`.
type ModPath = Vec<String>;

/// A crate's modules as its sources define them (test code left out): what each names through
/// `crate::`, `super::`, `self::` (and `$crate::` in the crate's macros it calls), and what its
/// `use` declarations bind, so a name can be followed to the module that defines it.
struct Crate {
    /// Each module's production code (an inline `mod name { … }` is a module of its own).
    modules: BTreeMap<ModPath, String>,
    /// Each module's `use` bindings inside the crate: name → the path it stands for.
    imports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
    /// Each module's named paths, resolved from the crate root.
    named: BTreeMap<ModPath, Vec<ModPath>>,
}

impl Crate {
    /// The crate whose root is `src/lib.rs` (or `src/main.rs`).
    fn read(src: &Path) -> Crate {
        let has_lib = src.join("lib.rs").exists();
        let mut files = Vec::new();
        for file in rust_files(src) {
            if has_lib && file == src.join("main.rs") {
                continue; // the binary is a crate of its own
            }
            let Some(code) = production_code(&file) else { continue };
            files.push((module_path_of(file.strip_prefix(src).unwrap()), code));
        }
        Crate::parse(files)
    }

    /// The crate of these files, each given by its module's path and its production code.
    fn parse(files: Vec<(ModPath, String)>) -> Crate {
        let mut modules = BTreeMap::new();
        for (path, code) in files {
            split_inline_modules(path, &code, &mut modules);
        }
        let mut macros = BTreeMap::<String, Vec<ModPath>>::new();
        for code in modules.values() {
            let lines: Vec<&str> = code.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let Some(name) = line.trim().strip_prefix("macro_rules! ") else { continue };
                let body = lines[i..=item_end(&lines, i)].join("\n");
                let paths = named_paths(&body, &[]);
                macros.entry(word(name)).or_default().extend(paths);
            }
        }
        let mut imports = BTreeMap::new();
        let mut named = BTreeMap::new();
        for (here, code) in &modules {
            let mut bound = BTreeMap::new();
            for (_, tree) in use_declarations(code) {
                for (path, alias) in use_tree(&tree) {
                    let Some(name) = alias.or_else(|| path.last().cloned()).filter(|n| n != "*") else { continue };
                    let child = [here.clone(), path.clone()].concat();
                    let target = absolute(&path, here)
                        .or_else(|| modules.contains_key(&child[..here.len() + 1]).then_some(child));
                    if let Some(target) = target {
                        bound.insert(name, target);
                    }
                }
            }
            imports.insert(here.clone(), bound);
            let mut paths = named_paths(code, here);
            for (name, expands_to) in &macros {
                if code.match_indices(&format!("{name}!")).any(|(i, _)| !code[..i].ends_with(is_ident)) {
                    paths.extend(expands_to.iter().cloned());
                }
            }
            named.insert(here.clone(), paths);
        }
        Crate { modules, imports, named }
    }

    /// The module that defines what `path` names, following `use` bindings (a re-export's
    /// module, not the module that re-exports it).
    fn home(&self, path: &[String], hops: usize) -> ModPath {
        let mut module = Vec::new();
        for segment in path {
            let next = [module.clone(), vec![segment.clone()]].concat();
            if self.modules.contains_key(&next) {
                module = next;
                continue;
            }
            let imported = self.imports.get(&module).and_then(|bound| bound.get(segment));
            return match imported {
                Some(target) if hops < 8 => self.home(target, hops + 1),
                _ => module,
            };
        }
        module
    }

    /// The modules directly under `parent` (the crate's top-level ones for `[]`), each with the
    /// modules under `parent` it imports: a module's submodules are part of it, and what it
    /// names of `parent` itself (its own items) is no edge.
    fn graph(&self, parent: &[&str]) -> Graph {
        let depth = parent.len();
        let under = |path: &[String]| path.len() > depth && path.iter().zip(parent).all(|(a, b)| a == b);
        let mut graph = Graph::new();
        for (module, paths) in &self.named {
            if !under(module) {
                continue;
            }
            let node = &module[depth];
            let uses = graph.entry(node.clone()).or_default();
            for path in paths {
                let home = self.home(path, 0);
                if under(&home) && home[depth] != *node {
                    uses.insert(home[depth].clone());
                }
            }
        }
        graph
    }
}

/// The top-level modules of the crate whose sources are in `src`, each with the top-level
/// modules of the same crate it imports, test code left out.
fn module_graph(src: &Path) -> Graph {
    Crate::read(src).graph(&[])
}

/// The module path of the file at `rel` under a crate's `src`.
fn module_path_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !["mod", "lib", "main"].contains(&stem) {
        parts.push(stem.to_string());
    }
    parts
}

/// Puts `code`, the module at `path`, into `modules`, each inline `mod name { … }` in it as a
/// module of its own.
fn split_inline_modules(path: ModPath, code: &str, modules: &mut BTreeMap<ModPath, String>) {
    let lines: Vec<&str> = code.lines().collect();
    let mut own = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let words: Vec<&str> = lines[i].split_whitespace().collect();
        let inline = match words[..] {
            ["mod", name, "{"] => Some(name),
            [vis, "mod", name, "{"] if vis.starts_with("pub") => Some(name),
            _ => None,
        };
        match inline {
            Some(name) => {
                let end = item_end(&lines, i);
                let inner = [path.clone(), vec![name.to_string()]].concat();
                split_inline_modules(inner, &lines[i + 1..end].join("\n"), modules);
                i = end + 1;
            }
            None => {
                own.push(lines[i]);
                i += 1;
            }
        }
    }
    modules.insert(path, own.join("\n"));
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier `text` starts with.
fn word(text: &str) -> String {
    text.chars().take_while(|c| is_ident(*c)).collect()
}

/// Every path `code`, in the module `here`, names through `crate::`, `super::`, `self::` or
/// `$crate::` (groups expanded), resolved from the crate root.
fn named_paths(code: &str, here: &[String]) -> Vec<ModPath> {
    let mut out = Vec::new();
    for keyword in ["crate::", "super::", "self::"] {
        for (i, _) in code.match_indices(keyword) {
            let before = code[..i].chars().last();
            // `ticket_sync_core::`, `Self::`, the second `super::` of `super::super::`.
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            for (path, _) in use_tree(&code[i..]) {
                out.extend(absolute(&path, here));
            }
        }
    }
    out
}

/// `path` (starting `crate`, `self` or `super`), named in the module `here`, from the crate root;
/// `None` for a path that starts otherwise (another crate's, or a name in scope).
fn absolute(path: &[String], here: &[String]) -> Option<ModPath> {
    let mut base = here.to_vec();
    let mut rest = path;
    match rest.first()?.as_str() {
        "crate" => {
            base.clear();
            rest = &rest[1..];
        }
        "self" => rest = &rest[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    Some([base, rest.to_vec()].concat())
}

/// The paths of a `use` tree (or of any path) at the start of `text`, groups expanded, each
/// with the name it is bound to when renamed (`as`), or `*` for a glob: `a::{b, c::{d as e}}` →
/// `a::b`, `a::c::d` (as `e`).
fn use_tree(text: &str) -> Vec<(ModPath, Option<String>)> {
    let mut segments = Vec::new();
    let mut rest = text.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut out = Vec::new();
            for item in top_level_items(group) {
                for (tail, alias) in use_tree(item) {
                    let mut full = [segments.clone(), tail].concat();
                    if full.len() > 1 && full.last().is_some_and(|s| s == "self") {
                        full.pop(); // `a::{self, b}`: `a` itself
                    }
                    out.push((full, alias));
                }
            }
            return out;
        }
        if rest.starts_with('*') {
            return vec![(segments, Some("*".to_string()))];
        }
        let name = word(rest);
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        segments.push(name);
        match rest.trim_start().strip_prefix("::") {
            Some(after) => rest = after.trim_start(),
            None => break,
        }
    }
    let alias = rest.trim_start().strip_prefix("as ").map(|a| word(a.trim_start()));
    if segments.is_empty() {
        return vec![];
    }
    vec![(segments, alias)]
}

/// Where each non-blank line of `code` starts, past its indentation: where a statement may
/// begin (the text from there on is read to the statement's end, however many lines it spans).
fn statement_starts(code: &str) -> Vec<usize> {
    let mut at = 0;
    let mut starts = Vec::new();
    for line in code.split_inclusive('\n') {
        if !line.trim().is_empty() {
            starts.push(at + line.len() - line.trim_start().len());
        }
        at += line.len();
    }
    starts
}

/// The `use` declarations of `code`, each with its visibility (`""`, `pub`, `pub(crate)`,
/// `pub(super)`, `pub(in …)`) and its tree, however many lines it spans.
fn use_declarations(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for start in statement_starts(code) {
        let text = &code[start..];
        let (visibility, rest) = match visibility(text) {
            Some((v, rest)) => (v, rest),
            None => ("", text),
        };
        let Some(tree) = rest.strip_prefix("use ") else { continue };
        let tree = tree.split(';').next().unwrap_or_default();
        out.push((visibility.to_string(), tree.to_string()));
    }
    out
}

/// The visibility `text` starts with (`pub`, `pub(crate)`, `pub(in crate::x)`, …) and what
/// follows it.
fn visibility(text: &str) -> Option<(&str, &str)> {
    let after = text.strip_prefix("pub")?;
    let end = if after.starts_with('(') { after.find(')')? + 1 } else { 0 };
    after[end..].starts_with(char::is_whitespace).then(|| (&text[..3 + end], after[end..].trim_start()))
}

/// The comma-separated items of a `use` group up to its closing brace, nested groups kept whole.
fn top_level_items(group: &str) -> Vec<&str> {
    let (mut depth, mut start, mut items) = (0usize, 0usize, Vec::new());
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// The modules of `krate` that have submodules (the crate's root `[]` first), each with its
/// submodules' graph.
fn graphs_by_parent(krate: &Crate) -> Vec<(ModPath, Graph)> {
    let parents: BTreeSet<ModPath> =
        krate.modules.keys().filter(|m| !m.is_empty()).map(|m| m[..m.len() - 1].to_vec()).collect();
    parents
        .into_iter()
        .map(|parent| {
            let graph = krate.graph(&parent.iter().map(String::as_str).collect::<Vec<_>>());
            (parent, graph)
        })
        .collect()
}

/// `graph` as lines `module → imports`, for a failure's message.
fn show(graph: &Graph) -> String {
    let line = |(m, uses): (&String, &BTreeSet<String>)| {
        format!("  {m} → {}", uses.iter().cloned().collect::<Vec<_>>().join(", "))
    };
    graph.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// Architecture invariant: inside each library crate, the modules' imports form no cycle, at
/// the top and inside each module with submodules (`zendesk/`, `github/`); `super::` and
/// `self::` paths are read against the module they are in, and a name the crate's root
/// re-exports counts as an import of the module that defines it.
#[test]
fn the_library_crates_modules_import_in_one_direction() {
    for krate in ["crates/core", "crates/clients", "crates/store"] {
        let krate_modules = Crate::read(&root().join(krate).join("src"));
        let graph = krate_modules.graph(&[]);
        assert!(graph.len() > 2, "{krate}: modules found: {graph:?}");
        let edges: usize = graph.values().map(BTreeSet::len).sum();
        assert!(edges >= graph.len() / 2, "{krate}: too few imports found (are paths read?):\n{}", show(&graph));
        assert_acyclic(krate, &krate_modules);
    }
}

/// Fails naming the cycle when the modules of `krate`, at any level, import each other in one.
fn assert_acyclic(label: &str, krate: &Crate) {
    for (parent, graph) in graphs_by_parent(krate) {
        if let Some(cycle) = find_cycle(&graph) {
            let inside = if parent.is_empty() { String::new() } else { format!(" (inside {})", parent.join("::")) };
            panic!(
                "{label}{inside}: the modules import each other in a cycle: {}\n{}",
                cycle.join(" → "),
                show(&graph)
            );
        }
    }
}

/// Architecture invariant: the root crate's modules import in one direction too: the
/// commands (`app`) over the daemon, the daemon over the passes (`sync`) and what serves
/// (`metrics`, `webhooks`); and inside `sync/`, `config/` and `webhooks/` likewise. (A module
/// that says a line through `say!` imports `say_line`, beside the macro in `lib.rs`, not the
/// commands.)
#[test]
fn the_products_modules_import_in_one_direction() {
    let product = Crate::read(&root().join("src"));
    let graph = product.graph(&[]);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(graph.len() > 10 && edges > 10, "the product's modules and imports found:\n{}", show(&graph));
    assert_acyclic("the product", &product);
}

/// The cycle finder itself finds a cycle where there is one (so the tests above can fail).
#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let mut graph = Graph::new();
    graph.entry("http".into()).or_default().insert("limits".into());
    graph.entry("limits".into()).or_default().insert("ratelimit".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("limits".into()).or_default().insert("http".into());
    assert_eq!(find_cycle(&graph), Some(vec!["http".into(), "limits".into(), "http".into()]));
    assert_eq!(top_level_items("daemon, status::{self, Status}, x};"), vec!["daemon", " status::{self, Status}", " x"]);
}

/// The module graph reads every form of path a module imports with (so the tests above can
/// fail): `super::` and `self::` from where they stand (an inline module too), groups over
/// several lines, a name re-exported (or imported privately) by the parent, renamed, through
/// one of the crate's macros; and nothing that only test code names.
#[test]
fn the_module_graph_reads_every_form_of_path() {
    let file = |path: &str, text: &str| {
        let path = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        (path, code_of(text))
    };
    let lib = "macro_rules! say {\n    ($($arg:tt)*) => {\n        $crate::out::line(format_args!($($arg)*))\n    };\n}\n\n\
               mod a;\n#[cfg(test)]\nmod t;\npub use kinds::{Kind, Other as Renamed};\nuse helpers::Tool;\n\npub struct Store;\n";
    let krate = Crate::parse(vec![
        file("", lib),
        file("kinds", "pub enum Kind {}\npub struct Other;\n"),
        file("out", "pub fn line(_: std::fmt::Arguments<'_>) {}\n"),
        file("helpers", "pub struct Tool;\npub fn go() {}\n"),
        file("e", "pub fn go() {}\n"),
        file("f", "pub fn y() {}\n"),
        file("a", "use super::{Kind, Store};\nuse ticket_sync_core::e;\nimpl Store {\n    fn s() -> Self { Self::new() }\n}\n"),
        file("b", "use super::Renamed;\n"),
        file("c", "use super::{\n    a,\n    b::{self, x},\n};\n"),
        file(
            "d",
            "fn f() {\n    super::helpers::go();\n    crate::e::go();\n    self::inner::x();\n}\n\n\
             mod inner {\n    use super::super::f::y;\n}\n",
        ),
        file("g", "fn g() {\n    say!(\"hi\");\n}\n"),
        file(
            "h",
            "#[cfg(test)]\nfn t() {\n    crate::a::x();\n}\n\npub fn h(_: crate::kinds::Kind) {}\n\n\
             #[cfg(test)]\nmod tests {\n    use crate::b;\n}\n",
        ),
        file("via", "use super::Tool;\n"),
        file("sync", "mod escalate;\nmod guard;\nmod identity;\nmod forward;\npub struct Engine;\n"),
        file("sync/escalate", "use super::{guard, identity, forward};\nuse super::Engine;\n"),
        file("sync/guard", "use crate::sync::identity::Me;\n"),
        file("sync/identity", "pub struct Me;\n"),
        file("sync/forward", "use super::super::sync::guard;\n"),
    ]);
    let expected = |edges: &[(&str, &[&str])]| -> Graph {
        edges.iter().map(|(m, uses)| (m.to_string(), uses.iter().map(|u| u.to_string()).collect())).collect()
    };
    let graph = krate.graph(&[]);
    assert_eq!(
        graph,
        expected(&[
            ("a", &["kinds"]),
            ("b", &["kinds"]),
            ("c", &["a", "b"]),
            ("d", &["e", "f", "helpers"]),
            ("e", &[]),
            ("f", &[]),
            ("g", &["out"]),
            ("h", &["kinds"]),
            ("helpers", &[]),
            ("kinds", &[]),
            ("out", &[]),
            ("sync", &[]),
            ("via", &["helpers"]),
        ]),
        "\n{}",
        show(&graph)
    );
    let sync = krate.graph(&["sync"]);
    assert_eq!(
        sync,
        expected(&[
            ("escalate", &["forward", "guard", "identity"]),
            ("forward", &["guard"]),
            ("guard", &["identity"]),
            ("identity", &[]),
        ])
    );
}

/// `code_of` leaves out exactly what `#[cfg(test)]` annotates, wherever it stands in the file.
#[test]
fn test_code_is_cut_item_by_item() {
    let text = "mod a;\n#[cfg(test)]\nmod route_tests;\nuse crate::b;\n\nimpl X {\n    /// For tests.\n    \
                #[cfg(test)]\n    pub fn for_tests() -> X {\n        crate::c::make()\n    }\n\n    pub fn real() {\n        \
                crate::d::go();\n    }\n}\n\n#[cfg(test)]\nmod tests {\n    use crate::e;\n}\n\n#[cfg(test)]\n\
                #[allow(dead_code)]\nfn helper(\n    x: u8,\n) -> u8 {\n    crate::f::g(x)\n}\n\n\
                #[cfg(test)] mod one_line;\n// crate::comment\npub fn after() {\n    crate::h::go();\n}\n";
    let code = code_of(text);
    for kept in ["mod a;", "crate::b", "crate::d", "pub fn real", "crate::h", "pub fn after"] {
        assert!(code.contains(kept), "{kept} is cut:\n{code}");
    }
    for cut in ["route_tests", "crate::c", "crate::e", "crate::f", "one_line", "crate::comment"] {
        assert!(!code.contains(cut), "{cut} is kept:\n{code}");
    }
}

/// Architecture invariant: one import path per type: no crate re-exports another workspace
/// crate's items, whatever the re-export's visibility (`pub`, `pub(crate)`, `pub(super)`,
/// `pub(in …)`) and however its `use` is written (a group over several lines; a name the file
/// imported from another crate first), nor names one with an alias (`pub type X =
/// ticket_sync_…`); a crate's own façade (`pub use module::Type` over a private module) is its
/// one path.
#[test]
fn no_crate_re_exports_another_crates_items() {
    for dir in ["src", "crates/core/src", "crates/clients/src", "crates/store/src"] {
        for file in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let found = re_exports_of_other_crates(&without_comments(&text));
            assert!(found.is_empty(), "{}: re-exports another crate's items: {found:?}", file.display());
        }
    }
}

/// The re-exports finder finds every form of re-export (so the test above can fail).
#[test]
fn the_re_export_finder_finds_every_form() {
    let code = "use ticket_sync_core::domain;\nuse ticket_sync_core::rules::Rules as R;\nuse own::Fine;\n\
                pub use own::Facade;\n\npub(self) use ticket_sync_core::clock;\n\n\
                pub(super) use ticket_sync_clients::github::ends_with_marker;\n\
                pub(in crate::sync) use ticket_sync_core::{\n    body,\n    domain::TicketId,\n};\n\
                pub use domain::IssueNumber;\npub(crate) use R as Rules;\n\n\
                pub type Id = ticket_sync_core::domain::TicketId;\npub(crate) type Map = domain::Mapping;\n\
                pub type Own = std::result::Result<Fine, R>;\n";
    assert_eq!(
        re_exports_of_other_crates(code),
        [
            "pub(super) use ticket_sync_clients::github::ends_with_marker",
            "pub(in crate::sync) use ticket_sync_core::body",
            "pub(in crate::sync) use ticket_sync_core::domain::TicketId",
            "pub use domain::IssueNumber",
            "pub(crate) use R",
            "pub type Id = ticket_sync_core::domain::TicketId",
            "pub(crate) type Map = domain::Mapping",
        ]
    );
    assert_eq!(
        payload_types("pub enum IntentPayload {}\nstruct A;\nstruct Payloads;\npub(crate) trait Payload {}\n"),
        ["IntentPayload", "Payload"]
    );
}

/// `text` without its comment lines.
fn without_comments(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// What `code` re-exports of another workspace crate (`pub…` `use`s, `pub…` type aliases),
/// each as written.
fn re_exports_of_other_crates(code: &str) -> Vec<String> {
    let declarations = use_declarations(code);
    // The names the file binds to another workspace crate's items, whatever their visibility.
    let mut foreign = BTreeSet::new();
    for (_, tree) in &declarations {
        for (path, alias) in use_tree(tree) {
            if path[0].starts_with("ticket_sync_") {
                foreign.extend(alias.or_else(|| path.last().cloned()).filter(|n| n != "*"));
            }
        }
    }
    let from_another_crate = |first: &str| first.starts_with("ticket_sync_") || foreign.contains(first);
    let mut found = Vec::new();
    let private = |visibility: &str| visibility.is_empty() || visibility == "pub(self)";
    for (visibility, tree) in &declarations {
        for (path, _) in use_tree(tree).into_iter().filter(|_| !private(visibility)) {
            if from_another_crate(&path[0]) {
                found.push(format!("{visibility} use {}", path.join("::")));
            }
        }
    }
    for start in statement_starts(code) {
        let Some((visibility, rest)) = visibility(&code[start..]) else { continue };
        let Some(alias) = rest.strip_prefix("type ").filter(|_| !private(visibility)) else { continue };
        let Some((name, aliased)) = alias.split(';').next().unwrap_or_default().split_once('=') else { continue };
        let aliased = aliased.trim();
        if from_another_crate(&word(aliased.trim_start_matches(['&', ':']))) {
            found.push(format!("{visibility} type {} = {aliased}", name.trim()));
        }
    }
    found
}

/// Every "Architecture invariant" line of ARCHITECTURE.md names, in brackets, a `#[test]` of
/// this file that holds it; and every invariant test here is named there.
#[test]
fn each_documented_invariant_is_a_test_here() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let here = std::fs::read_to_string(root().join("tests/it/architecture.rs")).unwrap();
    let mut named = Vec::new();
    for paragraph in doc.split("**Architecture invariant:**").skip(1) {
        let paragraph = paragraph.split("\n\n").next().unwrap_or_default();
        let paragraph = paragraph.split("**Architecture invariant:**").next().unwrap_or_default();
        let tests: Vec<&str> = paragraph
            .split("(`")
            .skip(1)
            .filter_map(|t| t.split("`)").next())
            .filter(|t| here.contains(&format!("#[test]\nfn {t}() {{")))
            .collect();
        assert!(!tests.is_empty(), "an invariant names no test of architecture.rs: {paragraph}");
        named.extend(tests);
    }
    let helpers = [
        "the_cycle_finder_finds_a_planted_cycle",
        "the_module_graph_reads_every_form_of_path",
        "test_code_is_cut_item_by_item",
        "the_re_export_finder_finds_every_form",
        "each_documented_invariant_is_a_test_here",
    ];
    for line in here.lines() {
        let Some(name) = line.strip_prefix("fn ").and_then(|l| l.strip_suffix("() {")) else { continue };
        if here.contains(&format!("#[test]\n{line}")) && !helpers.contains(&name) {
            assert!(named.contains(&name), "the test {name} holds no invariant ARCHITECTURE.md states");
        }
    }
}

/// The sections of ARCHITECTURE.md's code map, by how their headings start, each with the
/// directory its rows' paths are relative to.
const CODE_MAP_SECTIONS: [(&str, &str); 5] = [
    ("`crates/core`", "crates/core/src/"),
    ("`crates/clients`", "crates/clients/src/"),
    ("`crates/store`", "crates/store/src/"),
    ("The product", "src/"),
    ("`crates/sandbox`", ""),
];

/// A row of the code map: the paths its first column names, from the repository's root (a
/// directory's ends with `/`), and every name in backticks on the row.
struct MapRow {
    paths: Vec<String>,
    names: Vec<String>,
}

/// ARCHITECTURE.md's code map: each section's heading with its rows, in order.
fn code_map() -> Vec<(String, Vec<MapRow>)> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let map = doc.split("\n## Code map\n").nth(1).expect("ARCHITECTURE.md has a code map");
    let map = map.split("\n## ").next().unwrap_or_default();
    let backticked = |text: &str| -> Vec<String> { text.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    let mut sections = Vec::new();
    for section in map.split("\n### ").skip(1) {
        let heading = section.lines().next().unwrap_or_default();
        let (_, base) = (CODE_MAP_SECTIONS.iter().find(|(start, _)| heading.starts_with(start)))
            .unwrap_or_else(|| panic!("a code map section architecture.rs has no directory for: {heading}"));
        let rows = (section.lines().filter(|l| l.starts_with("| `")))
            .map(|line| MapRow {
                paths: backticked(line.split('|').nth(1).unwrap_or_default())
                    .iter()
                    .map(|p| format!("{base}{p}"))
                    .collect(),
                names: backticked(line),
            })
            .collect();
        sections.push((heading.to_string(), rows));
    }
    sections
}

/// Architecture invariant: ARCHITECTURE.md's code map names every source file of the crates,
/// the benches and the build script (by its path, or by its name within its directory's row),
/// and nothing that is not there.
#[test]
fn the_code_map_names_every_source_file() {
    let map = code_map();
    let rows: Vec<&MapRow> = map.iter().flat_map(|(_, rows)| rows).collect();
    let dirs = ["src", "crates/core/src", "crates/clients/src", "crates/store/src", "crates/sandbox/src", "benches"];
    let mut files: Vec<PathBuf> = dirs.iter().flat_map(|d| rust_files(&root().join(d))).collect();
    files.push(root().join("build.rs"));
    for file in files {
        let rel = file.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
        let named = rows.iter().any(|row| {
            row.paths.iter().any(|path| {
                *path == rel
                    || path.ends_with('/')
                        && rel.strip_prefix(path.as_str()).is_some_and(|inside| row.names.iter().any(|n| n == inside))
            })
        });
        assert!(named, "{rel} is not in ARCHITECTURE.md's code map: give it a line (or its name in its directory's)");
    }
    for row in rows {
        for path in &row.paths {
            assert!(root().join(path).exists(), "ARCHITECTURE.md's code map names {path}, which is not there");
            if path.ends_with('/') {
                for name in row.names.iter().filter(|n| n.ends_with(".rs")) {
                    assert!(
                        root().join(path).join(name).exists(),
                        "ARCHITECTURE.md's code map names {path}{name}, which is not there"
                    );
                }
            }
        }
    }
}

/// Architecture invariant: the code map lists each library crate's modules bottom up: a
/// module imports only modules listed above it.
#[test]
fn the_code_map_lists_the_library_crates_modules_bottom_up() {
    let map = code_map();
    for (heading, src) in [
        ("`crates/core`", "crates/core/src"),
        ("`crates/clients`", "crates/clients/src"),
        ("`crates/store`", "crates/store/src"),
    ] {
        let graph = module_graph(&root().join(src));
        let (_, rows) = map.iter().find(|(h, _)| h.starts_with(heading)).expect("a code map section per library crate");
        let mut above = BTreeSet::new();
        for path in rows.iter().flat_map(|row| &row.paths) {
            let rel = path.strip_prefix(&format!("{src}/")).unwrap_or(path);
            let Some(module) = module_path_of(Path::new(rel.trim_end_matches('/'))).first().cloned() else { continue };
            let below: Vec<&String> =
                graph.get(&module).into_iter().flatten().filter(|m| !above.contains(*m)).collect();
            assert!(
                below.is_empty(),
                "{src}: the code map lists {module} above {below:?}, which it imports:\n{}",
                show(&graph)
            );
            above.insert(module);
        }
        let unlisted: Vec<&String> = graph.keys().filter(|m| !above.contains(*m)).collect();
        assert!(unlisted.is_empty(), "{src}: the code map does not list {unlisted:?}");
    }
}

/// The module graphs ARCHITECTURE.md's "Dependency order" writes down: the bullet's label, the
/// crate's sources and the module whose submodules it is about.
const DEPENDENCY_ORDERS: [(&str, &str, &[&str]); 5] = [
    ("core", "crates/core/src", &[]),
    ("clients", "crates/clients/src", &[]),
    ("store", "crates/store/src", &[]),
    ("product", "src", &[]),
    ("inside `sync/`", "src", &["sync"]),
];

/// Architecture invariant: the "Dependency order" section writes down each crate's module
/// graph as it is (the first sentence of each crate's bullet: `module` → `what it imports`).
#[test]
fn the_dependency_order_is_each_crates_module_graph() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = doc.split("### Dependency order").nth(1).expect("a Dependency order section");
    let section = section.split("\n#").next().unwrap_or_default();
    let bullets: Vec<String> =
        section.split("\n- ").skip(1).map(|b| b.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let backticked = |text: &str| -> Vec<String> { text.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    for (label, src, parent) in DEPENDENCY_ORDERS {
        let bullet = (bullets.iter().find_map(|b| b.strip_prefix(&format!("**{label}**:"))))
            .unwrap_or_else(|| panic!("no bullet **{label}**: in ARCHITECTURE.md's Dependency order"));
        let edges = bullet.split(". ").next().unwrap_or_default().trim_end_matches('.');
        let mut documented = Graph::new();
        for clause in edges.split(';') {
            let (modules, uses) = clause.split_once('→').unwrap_or_else(|| panic!("{label}: no → in {clause:?}"));
            for module in backticked(modules) {
                documented.entry(module).or_default().extend(backticked(uses));
            }
        }
        let graph = Crate::read(&root().join(src)).graph(parent);
        assert_eq!(documented, graph, "ARCHITECTURE.md's Dependency order, {label}; the graph is:\n{}", show(&graph));
    }
}
