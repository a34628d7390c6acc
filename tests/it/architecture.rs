//! Architecture invariants (ARCHITECTURE.md), checked: the workspace's crate graph from
//! `cargo metadata`, and the import rules inside the root crate from its sources. Each test
//! names the rule it holds; breaking the rule fails it.

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

/// A file's code without its comments and its unit tests.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
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
/// audit); what two passes share lives in the shared helpers (`notes.rs`, `note.rs`, …).
/// `reescalate.rs` and `link.rs` are parts of escalation, not passes.
#[test]
fn passes_never_import_each_other() {
    const PASSES: [&str; 4] = ["escalate", "pushback", "forward", "audit"];
    for pass in PASSES {
        let text = std::fs::read_to_string(root().join(format!("src/sync/{pass}.rs"))).unwrap();
        for other in PASSES.iter().filter(|o| **o != pass) {
            for form in [format!("super::{other}"), format!("crate::sync::{other}"), format!("sync::{other}::")] {
                assert!(!text.contains(&form), "src/sync/{pass}.rs imports the pass {other} ({form})");
            }
        }
    }
}

/// Architecture invariant: persisted payloads are serialised and read back only in the store
/// (`crates/store/src/payload.rs` for intents, its typed accessors for the rest). The passes
/// and their helpers (`src/sync/`) hand the store typed values: they name no JSON
/// (de)serialiser (a pass's summary is a `serde_json::json!` value the store writes) and derive
/// no `Deserialize`; nowhere else in the product or the core is JSON text read back but in the
/// webhook receiver, which decodes deliveries where they arrive (the clients decode their own
/// wire shapes and the sandbox is a stand-in: neither reaches the store); and no type named
/// `…Payload` is defined outside the store.
#[test]
fn persisted_payloads_are_serialised_and_read_only_in_the_store() {
    for file in rust_files(&root().join("src/sync")) {
        let Some(code) = production_code(&file) else { continue };
        for (at, _) in code.match_indices("serde_json") {
            let rest = &code[at + "serde_json".len()..];
            assert!(
                rest.starts_with("::json!") || rest.starts_with("::Value"),
                "{} (de)serialises with serde_json{}: hand the store a typed value",
                file.display(),
                rest.lines().next().unwrap_or_default()
            );
        }
        assert!(!code.contains("Deserialize"), "{} reads a serialised shape back", file.display());
    }
    let receiver = root().join("src/webhooks/receiver.rs");
    for dir in ["src", "crates/core/src"] {
        for file in rust_files(&root().join(dir)).into_iter().filter(|f| *f != receiver) {
            let Some(code) = production_code(&file) else { continue };
            for form in ["serde_json::from_", "use serde_json::{", "use serde_json::from_"] {
                assert!(!code.contains(form), "{} reads JSON text back ({form}): only the store does", file.display());
            }
        }
    }
    for dir in ["src", "crates/core/src", "crates/clients/src"] {
        for file in rust_files(&root().join(dir)) {
            let Some(code) = production_code(&file) else { continue };
            let payload_type = code.split("struct ").skip(1).find_map(|after| {
                let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                name.ends_with("Payload").then_some(name)
            });
            assert_eq!(
                payload_type,
                None,
                "{} defines a payload shape: the store's payload.rs holds them",
                file.display()
            );
        }
    }
}

/// A source file's code without its comment lines and its inline test module, or `None` for a
/// file that is a test module (its parent declares it under `#[cfg(test)]`).
fn production_code(file: &Path) -> Option<String> {
    let dir = file.parent().unwrap();
    let stem = file.file_stem().unwrap().to_string_lossy();
    let parents = if ["mod", "lib", "main"].contains(&stem.as_ref()) {
        vec![]
    } else {
        let up = dir.parent().unwrap();
        let named = dir.file_name().unwrap().to_string_lossy();
        vec![dir.join("mod.rs"), dir.join("lib.rs"), dir.join("main.rs"), up.join(format!("{named}.rs"))]
    };
    for parent in parents.iter().filter(|p| p.exists()) {
        let text = std::fs::read_to_string(parent).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        if lines.windows(2).any(|w| w[0] == "#[cfg(test)]" && w[1] == format!("mod {stem};")) {
            return None;
        }
    }
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let end = (lines.windows(2))
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod ") && w[1].ends_with('{'))
        .unwrap_or(lines.len());
    let code = lines[..end].iter().filter(|l| !l.trim_start().starts_with("//"));
    Some(code.copied().collect::<Vec<_>>().join("\n"))
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
    out
}

/// The top-level modules of the crate whose sources are in `src`, each with the top-level
/// modules of the same crate it names (`crate::name`), test modules left out.
fn module_graph(src: &Path) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" || rel.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // What only the unit tests use is no dependency of the module.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let uses = graph.entry(module.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let before = text[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // `ticket_sync_core::`, `$crate::`
            }
            let rest = &text[i + 7..];
            let word = |t: &str| -> String { t.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
            let names = match rest.strip_prefix('{') {
                // `crate::{a, b::c, d}`: the first name of each top-level item of the group.
                Some(group) => top_level_items(group).iter().map(|item| word(item.trim_start())).collect(),
                None => vec![word(rest)],
            };
            for name in names {
                if !name.is_empty() && name != module && name != "self" {
                    uses.insert(name);
                }
            }
        }
        let _ = uses;
    }
    graph
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
fn find_cycle(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
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
    let mut done = std::collections::BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// Architecture invariant: inside each library crate, the modules' imports form no cycle
/// (each crate's ARCHITECTURE.md section lists them bottom up).
#[test]
fn the_library_crates_modules_import_in_one_direction() {
    for krate in ["crates/core", "crates/clients", "crates/store"] {
        let graph = module_graph(&root().join(krate).join("src"));
        assert!(graph.len() > 2, "{krate}: modules found: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{krate}: the modules import each other in a cycle: {}", cycle.join(" → "));
        }
    }
}

/// Architecture invariant: the root crate's modules import in one direction too: the
/// commands (`app`) over the daemon, the daemon over the passes (`sync`), the passes over
/// reading the rules (`config`) and credentials.
#[test]
fn the_products_modules_import_in_one_direction() {
    let graph = module_graph(&root().join("src"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("the product's modules import each other in a cycle: {}", cycle.join(" → "));
    }
}

/// The cycle finder itself finds a cycle where there is one (so the tests above can fail).
#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let mut graph = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    graph.entry("http".into()).or_default().insert("limits".into());
    graph.entry("limits".into()).or_default().insert("ratelimit".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("limits".into()).or_default().insert("http".into());
    assert_eq!(find_cycle(&graph), Some(vec!["http".into(), "limits".into(), "http".into()]));
    assert_eq!(top_level_items("daemon, status::{self, Status}, x};"), vec!["daemon", " status::{self, Status}", " x"]);
}

/// Architecture invariant: one import path per type: no crate re-exports another workspace
/// crate's items (`pub use ticket_sync_…`); a crate's own façade (`pub use module::Type` over a
/// private module) is its one path.
#[test]
fn no_crate_re_exports_another_crates_items() {
    for dir in ["src", "crates/core/src", "crates/clients/src", "crates/store/src"] {
        for file in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for line in text.lines().map(str::trim_start) {
                let re_export = line.starts_with("pub use ") || line.starts_with("pub(crate) use ");
                assert!(
                    !(re_export && line.contains("ticket_sync_")),
                    "{}: re-exports another crate's item: {line}",
                    file.display()
                );
            }
        }
    }
}

/// Every "Architecture invariant" line of ARCHITECTURE.md names, in brackets, the test of this
/// file that holds it; and every invariant test here is named there.
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
            .filter(|t| here.contains(&format!("fn {t}()")))
            .collect();
        assert!(!tests.is_empty(), "an invariant names no test of architecture.rs: {paragraph}");
        named.extend(tests);
    }
    for line in here.lines() {
        let Some(name) = line.strip_prefix("fn ").and_then(|l| l.strip_suffix("() {")) else { continue };
        let helper = ["the_cycle_finder_finds_a_planted_cycle", "each_documented_invariant_is_a_test_here"];
        if here.contains(&format!("#[test]\n{line}")) && !helper.contains(&name) {
            assert!(named.contains(&name), "the test {name} holds no invariant ARCHITECTURE.md states");
        }
    }
}
