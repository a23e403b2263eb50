//! Builds the dashboard (`web/`) with npm and embeds it, so that `truce serve` serves it
//! with no files beside the binary (ADR 0009). `npm ci` runs when `web/node_modules` is
//! missing or older than the lockfile; the bundle is written into OUT_DIR. Without npm, or
//! with TRUCE_SKIP_WEB set, the server embeds a page that says how to build it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn run(web: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .current_dir(web)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {status}", args.join(" ")))
    }
}

fn build(web: &Path, out: &Path) -> Result<(), String> {
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules").join(".package-lock.json");
    if modified(&installed) < modified(&lock) || modified(&installed).is_none() {
        run(
            web,
            "npm",
            &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
        )?;
    }
    let out = out.to_str().ok_or("OUT_DIR is not UTF-8")?;
    run(web, "node", &["build.mjs", out])
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("web");
    for watched in ["src", "build.mjs", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=TRUCE_SKIP_WEB");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let built = if std::env::var_os("TRUCE_SKIP_WEB").is_some() {
        Err("TRUCE_SKIP_WEB is set".to_string())
    } else {
        build(&web, &out)
    };
    if let Err(why) = built {
        println!(
            "cargo:warning=the dashboard is not built ({why}); the server shows how to build it"
        );
        std::fs::write(
            out.join("index.html"),
            format!(
                "<!doctype html><title>truce</title><h1>truce</h1><p>This build has no \
                 dashboard: {why}. It is built by <code>cargo build</code> when npm is on \
                 the PATH (see README.md and docs/adr/0009-dashboard-built-by-cargo.md).</p><p>The API is at <a href=\"/v1/openapi.json\">\
                 /v1/openapi.json</a>.</p>\n"
            ),
        )
        .expect("OUT_DIR is writable");
    }
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("OUT_DIR is readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    files.sort();
    let mut table = String::from(
        "/// The dashboard's files: name and contents.\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for name in files {
        table.push_str(&format!(
            "    ({name:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/web/{name}\"))),\n"
        ));
    }
    table.push_str("];\n");
    std::fs::write(out.with_file_name("web_files.rs"), table).expect("OUT_DIR is writable");
}
