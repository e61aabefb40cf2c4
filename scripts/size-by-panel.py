#!/usr/bin/env python3
"""The dashboard's transfer size, and what each group of panels adds to it.

Builds the page as users get it (`trunk build --release`) from a temporary git
worktree of HEAD: whole, without each group of panels in `src/app.rs`'s view,
and with no panel at all; then a minimal Leptos page built the same way, for
scale. Prints gzip -9 sizes. BENCHMARKS.md's size table comes from this.
About 10 minutes on two cores (the first build compiles everything).
  scripts/size-by-panel.py
"""

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target" / "size-by-panel"

# Groups of panels, by the component names their lines in App's view start with.
GROUPS = [
    ("charts (sensor charts, custom charts, chart form)", ["SensorChart", "CustomChartList", "ChartForm"]),
    ("message log", ["MessageLogPanel"]),
    ("device cards", ["DeviceCards"]),
    ("publish", ["PublishPanel"]),
    ("subscriptions, broker, alert badge, theme, status",
     ["SubscriptionsPanel", "BrokerStats", "AlertBadge", "ThemeToggle", "ConnectionStatus"]),
    ("topic tree", ["TopicTreePanel"]),
    ("connection panel", ["ConnectionPanel", "Show"]),
    ("rules and alerts", ["RulesPanel"]),
]

MINIMAL_PAGE = """use leptos::prelude::*;
#[component]
fn App() -> impl IntoView {
    let (count, set_count) = signal(0);
    let items = RwSignal::new(vec![1u32, 2, 3]);
    view! {
        <button on:click=move |_| set_count.update(|c| *c += 1)>"Click " {count}</button>
        <ul><For each=move || items.get() key=|x| *x let:x><li>{x}</li></For></ul>
        <p class:odd=move || count.get() % 2 == 1>{move || format!("{:.1}", count.get() as f64 / 3.0)}</p>
    }
}
fn main() { leptos::mount::mount_to_body(App) }
"""


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def run(cmd, cwd, env=None):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def build_dashboard(tree: Path, dist: Path) -> dict:
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
    run(["trunk", "build", "--release", "--offline", "--dist", str(dist)], tree, env)
    sizes = {"wasm": 0, "js": 0, "css": 0}
    for f in dist.iterdir():
        for kind in sizes:
            if f.name.endswith("." + kind):
                sizes[kind] += gz(f)
    return sizes


def without(app: str, names) -> str:
    """App's source with every view line naming one of `names` left out."""
    head, view = app.split("    view! {", 1)
    kept = [line for line in view.split("\n")
            if not any(re.search(rf"</?{n}\b", line) for n in names)]
    return "#![allow(unused)]\n" + head + "    view! {" + "\n".join(kept)


def header_only(app: str) -> str:
    head, _ = app.split("    view! {", 1)
    return ("#![allow(unused)]\n" + head
            + '    view! {\n        <header class="topbar"></header>\n    }\n}\n')


def minimal_leptos(work: Path) -> int:
    lock = (ROOT / "Cargo.lock").read_text()
    version = re.search(r'name = "leptos"\nversion = "([^"]+)"', lock).group(1)
    bindgen = re.search(r'name = "wasm-bindgen"\nversion = "([^"]+)"', lock).group(1)
    crate = work / "minimal"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(f"""[package]
name = "minimal"
version = "0.1.0"
edition = "2021"
[dependencies]
leptos = {{ version = "={version}", features = ["csr"] }}
wasm-bindgen = "={bindgen}"
[profile.release]
opt-level = "z"
lto = true
codegen-units = 1
panic = "abort"
[workspace]
""")
    (crate / "src" / "main.rs").write_text(MINIMAL_PAGE)
    shutil.copy(ROOT / "Cargo.lock", crate / "Cargo.lock")
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET / "minimal"),
               RUSTFLAGS="--cfg erase_components")
    run(["cargo", "build", "-q", "--release", "--target", "wasm32-unknown-unknown"], crate, env)
    out = crate / "out"
    wasm = TARGET / "minimal" / "wasm32-unknown-unknown" / "release" / "minimal.wasm"
    run(["wasm-bindgen", "--target", "web", "--out-dir", str(out), str(wasm)], crate)
    run(["wasm-opt", "-Oz", str(out / "minimal_bg.wasm"), "-o", str(out / "opt.wasm")], crate)
    return gz(out / "opt.wasm")


def main():
    work = Path(tempfile.mkdtemp(prefix="size-by-panel-"))
    tree = work / "tree"
    run(["git", "worktree", "add", "--detach", str(tree), "HEAD"], ROOT)
    try:
        app_path = tree / "src" / "app.rs"
        app = app_path.read_text()
        whole = build_dashboard(tree, work / "dist-whole")
        total = sum(whole.values())
        print(f"whole page: {total / 1024:.1f} KiB gzipped (wasm {whole['wasm']:,} B, "
              f"JS {whole['js']:,} B, CSS {whole['css']:,} B)")
        print("| left out | wasm saved, gzipped |\n| --- | --- |")
        for i, (label, names) in enumerate(GROUPS):
            app_path.write_text(without(app, names))
            wasm = build_dashboard(tree, work / f"dist-{i}")["wasm"]
            print(f"| {label} | {(whole['wasm'] - wasm) / 1000:.1f} KB |", flush=True)
        app_path.write_text(header_only(app))
        bare = build_dashboard(tree, work / "dist-bare")
        print(f"| every panel | {(whole['wasm'] - bare['wasm']) / 1000:.1f} KB |")
        print(f"no panel at all: {sum(bare.values()) / 1024:.1f} KiB gzipped "
              f"(wasm {bare['wasm'] / 1000:.1f} KB)")
        print(f"minimal Leptos page, same profile: wasm {minimal_leptos(work) / 1000:.1f} KB gzipped")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
