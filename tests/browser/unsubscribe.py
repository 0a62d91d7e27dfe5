#!/usr/bin/env python3
"""Opens an unsubscribe link in headless Chromium, as a member would, and clicks "Leave".

    unsubscribe.py URL SCREENSHOT_DIR

Drives Debian's chromium through chromedriver's W3C WebDriver protocol with the standard
library only (no Selenium). Saves the page before and after the click as PNG files and prints
the final page's heading. Exit 0 when the click led to the "you have left" page.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}").get("value")


def main():
    url, out_dir = sys.argv[1], sys.argv[2]
    port = free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if call(base, "GET", "/status").get("ready"):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        profile = f"/tmp/circlemail-chromium-{port}"
        session = call(base, "POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=412,800"]},
        }}})["sessionId"]
        s = f"/session/{session}"
        call(base, "POST", s + "/url", {"url": url})
        shot(base, s, os.path.join(out_dir, "unsubscribe-page.png"))
        button = call(base, "POST", s + "/element", {"using": "css selector", "value": "#leave"})
        element = next(iter(button.values()))
        call(base, "POST", f"{s}/element/{element}/click", {})
        heading = ""
        for _ in range(50):
            # The click submits a form: until the answer page is in, the heading found may be
            # the old page's, gone by the time its text is asked for (404, stale element).
            try:
                found = call(base, "POST", s + "/element", {"using": "css selector", "value": "h1"})
                heading = call(base, "GET", f"{s}/element/{next(iter(found.values()))}/text")
            except urllib.error.HTTPError:
                heading = ""
            if "left" in heading:
                break
            time.sleep(0.1)
        shot(base, s, os.path.join(out_dir, "unsubscribe-done.png"))
        print(heading)
        call(base, "DELETE", s)
        sys.exit(0 if "left" in heading else 1)
    finally:
        driver.terminate()


def shot(base, s, path):
    png = base64.b64decode(call(base, "GET", s + "/screenshot"))
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
