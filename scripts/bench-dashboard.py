#!/usr/bin/env python3
"""The dashboard under load, beside a page using mqtt.js, in headless Chromium.

A bridge (release build) gets RATE QoS 0 messages a second spread over TOPICS
topics for SECONDS (crates/loadgen's `stream`); each page in turn is
subscribed to `#` and `$SYS/#` while it runs. Reported per page: messages
processed (and per second), the longest main-thread task and how many tasks
took over 50 ms (PerformanceObserver 'longtask', which sees only those), JS
heap and wasm memory at the start, a quarter of the way (once the bounded
stores have filled) and the end, and the gzipped transfer size. wasm memory
only grows, so its end figure is the page's peak.

The mqtt.js page (bench/mqttjs.html) only keeps a bounded log of the same
messages: it draws nothing, so it is the floor for a browser client.

  scripts/bench-dashboard.py [--rate 10000] [--topics 500] [--seconds 60]
"""
import argparse, gzip, http.server, json, os, re, shutil, socket, subprocess, sys
import tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.environ.get("TOOLS_DIR", os.path.expanduser("~/.cache/mqtt-dashboard-tools"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gz(path):
    with open(path, "rb") as f:
        return len(gzip.compress(f.read(), 9))


class Driver:
    """chromedriver's HTTP API, one headless Chromium session."""

    def __init__(self):
        self.port = free_port()
        self.profile = tempfile.mkdtemp()
        self.proc = subprocess.Popen(["chromedriver", f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                self.api("GET", "/status")
                break
            except Exception:
                time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--enable-precise-memory-info",
                f"--user-data-dir={self.profile}", "--window-size=1280,800"]
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": args}}}}
        self.session = self.api("POST", "/session", caps)["value"]["sessionId"]

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.load(r)

    def goto(self, url):
        self.api("POST", f"/session/{self.session}/url", {"url": url})

    def js(self, script):
        return self.api("POST", f"/session/{self.session}/execute/sync",
                        {"script": script, "args": []})["value"]

    def wait(self, script, what, within=30):
        deadline = time.time() + within
        while time.time() < deadline:
            if self.js(script):
                return
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {what}")

    def close(self):
        try:
            self.api("DELETE", f"/session/{self.session}")
        finally:
            self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


OBSERVE = """
window.__long = { max: 0, over50: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    window.__long.max = Math.max(window.__long.max, e.duration);
    if (e.duration > 50) window.__long.over50++;
  }
}).observe({ type: 'longtask' });
"""
MEMORY = """return [performance.memory.usedJSHeapSize,
                   window.__wasm ? window.__wasm.memory.buffer.byteLength : 0];"""


def run_page(driver, url, ready, count, args, tcp):
    driver.goto(url)
    driver.wait(ready, "the page to subscribe")
    time.sleep(1)
    driver.js(OBSERVE)
    start_mem = driver.js(MEMORY)
    before = driver.js(count)
    t0 = time.time()
    loadgen = subprocess.Popen([os.path.join(ROOT, "target/release/loadgen"), "--tcp", tcp, "--scenarios", "stream",
                                "--rate", str(args.rate), "--topics", str(args.topics), "--seconds", str(args.seconds)],
                               stdout=subprocess.PIPE, text=True)
    # The bounded stores fill in the first seconds; "flat" is from here on.
    time.sleep(args.seconds / 4)
    quarter_mem = driver.js(MEMORY)
    out, _ = loadgen.communicate()
    if loadgen.returncode != 0:
        raise SystemExit("loadgen failed")
    sent = int(out.split()[1])
    # Let the page take in what is still on the way.
    deadline = time.time() + 15
    while time.time() < deadline and driver.js(count) - before < sent:
        time.sleep(0.25)
    elapsed = time.time() - t0
    processed = driver.js(count) - before
    end_mem = driver.js(MEMORY)
    long = driver.js("return window.__long")
    return {"sent": sent, "processed": processed, "rate": processed / max(elapsed, 1e-9),
            "long_max": long["max"], "long_over50": long["over50"],
            "heap": (start_mem[0], quarter_mem[0], end_mem[0]),
            "wasm": (start_mem[1], quarter_mem[1], end_mem[1])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=10_000)
    ap.add_argument("--topics", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()

    dist = os.path.join(ROOT, "dist")
    mqttjs = os.path.join(TOOLS, "node_modules", "mqtt", "dist", "mqtt.min.js")
    if not os.path.exists(mqttjs):
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", TOOLS, "mqtt@5"],
                       check=True, stdout=subprocess.DEVNULL)
    site = tempfile.mkdtemp()
    for name in os.listdir(dist):
        os.symlink(os.path.join(dist, name), os.path.join(site, name))
    shutil.copy(os.path.join(ROOT, "bench", "mqttjs.html"), site)
    shutil.copy(mqttjs, site)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=site, **k)

        def log_message(self, *a):
            pass

    Quiet.extensions_map[".wasm"] = "application/wasm"
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    http_port = httpd.server_address[1]

    tcp, ws = free_port(), free_port()
    bridge = subprocess.Popen([os.path.join(ROOT, "target/release/bridge"), "--tcp", f"127.0.0.1:{tcp}",
                               "--ws", f"127.0.0.1:{ws}", "--sys-interval", "0", "--log", "warn"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", tcp), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        driver = Driver()
        broker = f"ws://127.0.0.1:{ws}/mqtt"
        dash = run_page(
            driver, f"http://127.0.0.1:{http_port}/index.html?broker={broker}",
            """return (document.querySelector('.sub-item[data-filter="#"] .sub-status')||{}).textContent === 'granted QoS 0'""",
            """const t = document.querySelector('.tree-summary'); const m = t && t.textContent.match(/([0-9]+) messages/);
               return m ? Number(m[1]) : 0;""", args, f"127.0.0.1:{tcp}")
        js = run_page(driver, f"http://127.0.0.1:{http_port}/mqttjs.html?broker={broker}",
                      "return window.__subscribed === true", "return window.__count", args, f"127.0.0.1:{tcp}")
    finally:
        if driver:
            driver.close()
        bridge.kill()
        httpd.shutdown()
        shutil.rmtree(site, ignore_errors=True)

    files = os.listdir(dist)
    dash_size = sum(gz(os.path.join(dist, f)) for f in files if re.search(r"\.(wasm|js|css)$", f))
    wasm_size = sum(gz(os.path.join(dist, f)) for f in files if f.endswith(".wasm"))
    js_size = gz(mqttjs)
    mib = lambda b: f"{b / 1048576:.1f} MiB"
    flat = lambda m: (f"{mib(m[0])} -> {mib(m[1])} -> {mib(m[2])} "
                      f"({(m[2] / m[1] - 1) * 100 if m[1] else 0:+.0f} % after the first quarter)")
    longest = lambda r: "none over 50 ms" if r["long_max"] == 0 else f"{r['long_max']:.0f} ms"
    print(f"{args.rate} msg/s over {args.topics} topics for {args.seconds} s, QoS 0, headless Chromium")
    print("| | dashboard (wasm) | mqtt.js log page |")
    print("| --- | --- | --- |")
    print(f"| messages processed / sent | {dash['processed']} / {dash['sent']} | {js['processed']} / {js['sent']} |")
    print(f"| processed per second | {dash['rate']:.0f} | {js['rate']:.0f} |")
    print(f"| longest main-thread task | {longest(dash)} | {longest(js)} |")
    print(f"| tasks over 50 ms | {dash['long_over50']} | {js['long_over50']} |")
    print(f"| JS heap: start -> 1/4 -> end | {flat(dash['heap'])} | {flat(js['heap'])} |")
    print(f"| wasm memory: start -> 1/4 -> end | {flat(dash['wasm'])} | - |")
    print(f"| transfer, gzipped | {dash_size / 1024:.0f} KiB (wasm {wasm_size / 1024:.0f} KiB) | {js_size / 1024:.0f} KiB (mqtt.min.js) |")
    print(f"| transfer ratio | {dash_size / js_size:.2f}x mqtt.js | 1x |")


if __name__ == "__main__":
    main()
