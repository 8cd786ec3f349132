"""Open a report's index.html in headless Chromium: every image loads, nothing is logged as an error.

Marked ``browser`` (excluded from the default run; ``.ci/browser.sh`` installs Chromium and runs it).
Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (file descriptors
3 and 4, NUL-separated JSON), so no Python package beyond the standard library is needed.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ganeval import evaluate, load_dataset, save_generator
from ganeval.report import write_report
from ganeval.toy import MixtureGenerator

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--remote-debugging-pipe"]
IMAGES_JS = ("JSON.stringify(Array.from(document.images).map(i => "
             "({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})))")


def _chromium() -> str:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")
    if exe is None:
        if os.environ.get("GANEVAL_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium not found (apt-get install chromium, or set CHROMIUM=/path/to/chrome)")
        pytest.skip("Chromium not found (apt-get install chromium); .ci/browser.sh installs it")
    return exe


class Browser:
    """A minimal DevTools-protocol client over Chromium's pipe transport."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. Our ends are first moved
        # above 10 (so dup2 onto 3/4 cannot clobber one another), then dup2'd in the child: dup2
        # makes 3 and 4 inheritable, while every other descriptor of ours is close-on-exec (PEP 446).
        hi_r, hi_w = fcntl.fcntl(to_r, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_r)
        os.close(from_w)

        def child() -> None:
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"], close_fds=False,
                                     preexec_fn=child, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(hi_r)
        os.close(hi_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        deadline = time.monotonic() + timeout
        while True:
            ev = self._read(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        os.close(self._from_r)


def inspect_page(path: Path, profile: Path) -> dict[str, Any]:
    """Load ``path`` and return its images' load status, errors logged, and non-local requests."""
    b = Browser(_chromium(), profile)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.send(f"{domain}.enable", session=session)
        b.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        b.wait_event("Page.loadEventFired")
        images = json.loads(b.send("Runtime.evaluate", {"expression": IMAGES_JS, "returnByValue": True},
                                   session=session)["result"]["value"])
        errors = []
        for ev in b.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value")) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                errors.append(p["entry"].get("text", ""))
            elif m == "Network.loadingFailed":
                errors.append(f"loading failed: {p.get('errorText')}")
        requests = [ev["params"]["request"]["url"] for ev in b.events if ev.get("method") == "Network.requestWillBeSent"]
        external = [u for u in requests if not u.startswith(("data:", "file:"))]
        return {"images": images, "errors": errors, "external": external}
    finally:
        b.close()


def test_report_opens_in_chromium(tmp_path):
    ds = load_dataset("ring8")
    kw = {"means": ds.means.tolist(), "std": ds.std, "modes": [0, 2, 5]}
    ck = save_generator(tmp_path / "g.pt", MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                        factory_kwargs=kw, latent_dim=3, data="ring8")
    out = write_report(evaluate(ck, ds, n_samples=500), tmp_path / "report")
    n_png = len(list(out.glob("*.png")))
    res = inspect_page(out / "index.html", tmp_path / "profile")
    assert len(res["images"]) == n_png >= 1
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in res["images"]), res["images"]
    assert res["errors"] == [] and res["external"] == []


def test_check_detects_broken_pages(tmp_path):
    """The check itself: a missing image and a console error are caught (so a pass means something)."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><img src='missing.png'>"
                    "<script>console.error('boom')</script></body></html>")
    res = inspect_page(page, tmp_path / "profile")
    assert res["images"] == [{"complete": True, "width": 0, "height": 0}]
    assert any("boom" in e for e in res["errors"]) and any("missing" in e or "ERR_FILE" in e or "failed" in e
                                                          for e in res["errors"]), res["errors"]
