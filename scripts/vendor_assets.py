"""Vendor the JS/CSS assets folium loads from CDNs into static/vendor/.

Usage::

    python scripts/vendor_assets.py

For each package pinned below (the exact versions folium 0.20.0 references),
the script runs ``npm pack <pkg>@<version>`` in a temporary directory, checks
the tarball against the registry's ``dist.integrity``, extracts it and copies
only the files the map needs, plus the package's licence, into
``static/vendor/<short-name>/``. Relative ``url(...)`` references of every
copied stylesheet (fonts, sprites) are followed and copied too, keeping their
relative layout, so that no stylesheet points at a missing file. Source maps
are never copied. Finally ``static/vendor/SOURCES.md`` is rewritten.

The output is deterministic: running the script twice gives the same tree.
Only npm (and its configured registry) is contacted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = REPO_ROOT / "static" / "vendor"
SOURCES_MD = VENDOR_DIR / "SOURCES.md"

# Project-local shim, not from npm: pins Leaflet's default icon image path.
SHIM_DIR = "atlas"
SHIM_FILE = "leaflet-icon-path.js"
SHIM_JS = """\
/*
 * Atlas des PTCE - not part of Leaflet; written by scripts/vendor_assets.py.
 *
 * Leaflet 1.9.3 guesses where the default marker images live by reading the
 * computed style of leaflet.css. When the stylesheet is not applied yet (as in
 * streamlit-folium, which adds the CSS links just before running the map
 * script) the fallback yields ".../leafletmarker-icon.png" and default markers
 * show as broken images. Loaded right after leaflet.js, this pins the path to
 * the vendored images, next to this file: ../leaflet/images/.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!window.L || !L.Icon || !L.Icon.Default || !script || !script.src) {
    return;
  }
  L.Icon.Default.imagePath = new URL("../leaflet/images/", script.src).href;
})();
"""

# Licence text for a package whose npm tarball ships no licence file.
AWESOME_MARKERS_LICENSE = """\
This file was written by scripts/vendor_assets.py: the npm tarball
drmonty-leaflet-awesome-markers@2.0.2 ships no licence file. Its package.json
declares "licenses": [{"type": "MIT", "url":
"http://github.com/lvoogdt/Leaflet.awesome-markers/blob/2.0/develop/LICENSE"}],
and js/leaflet.awesome-markers.js carries "(c) 2012-2013, Lennard Voogdt".
The upstream README states: "Leaflet.AwesomeMarkers and colored markers are
licensed under the MIT License".

The MIT License (MIT)

Copyright (c) 2012-2013 Lennard Voogdt

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
the Software, and to permit persons to whom the Software is furnished to do so,
subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


@dataclass(frozen=True)
class Package:
    """One npm package to vendor.

    ``files`` maps a glob inside the tarball's ``package/`` directory to the
    destination directory (relative to ``static/vendor/<short>/``).
    """

    name: str
    version: str
    short: str
    files: dict[str, str]
    license_files: tuple[str, ...] = ()
    generated_license: str | None = None
    # Used when the registry metadata has no usable "license" field.
    license_fallback: str | None = None
    notes: str = ""

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


PACKAGES: tuple[Package, ...] = (
    Package(
        name="leaflet",
        version="1.9.3",
        short="leaflet",
        files={
            "dist/leaflet.js": ".",
            "dist/leaflet.css": ".",
            # marker-icon-2x.png and marker-shadow.png are used by leaflet.js,
            # not by leaflet.css, so copy the whole (small) images/ dir.
            "dist/images/*.png": "images",
        },
        license_files=("LICENSE",),
    ),
    Package(
        name="leaflet.markercluster",
        version="1.1.0",
        short="leaflet.markercluster",
        files={
            "dist/leaflet.markercluster.js": ".",
            "dist/MarkerCluster.css": ".",
            "dist/MarkerCluster.Default.css": ".",
        },
        license_files=("MIT-LICENCE.txt",),
    ),
    Package(
        name="jquery",
        version="3.7.1",
        short="jquery",
        files={"dist/jquery.min.js": "."},
        license_files=("LICENSE.txt",),
    ),
    Package(
        name="bootstrap",
        version="5.2.2",
        short="bootstrap",
        files={
            "dist/js/bootstrap.bundle.min.js": ".",
            "dist/css/bootstrap.min.css": ".",
        },
        license_files=("LICENSE",),
    ),
    Package(
        name="@fortawesome/fontawesome-free",
        version="6.2.0",
        short="fontawesome",
        # The webfonts/ referenced by all.min.css (woff2 + ttf) are copied by
        # following its url(../webfonts/...) references.
        files={"css/all.min.css": "css"},
        license_files=("LICENSE.txt",),
    ),
    Package(
        name="drmonty-leaflet-awesome-markers",
        version="2.0.2",
        short="leaflet.awesome-markers",
        # The images/ sprites referenced by the CSS are copied by following
        # its url(images/...) references.
        files={
            "js/leaflet.awesome-markers.js": ".",
            "css/leaflet.awesome-markers.css": ".",
        },
        generated_license="LICENSE",
        license_fallback="MIT",
        notes=(
            "npm mirror of lvoogdt/Leaflet.awesome-markers 2.0.2, the release "
            "folium loads from cdnjs (Leaflet.awesome-markers/2.0.2); byte "
            "identity with the cdnjs files was not checked. The tarball has no "
            "licence file: LICENSE is written by the script (MIT, per "
            "package.json and the upstream README)."
        ),
    ),
)

CSS_URL_RE = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE)


def run(cmd: list[str], cwd: Path) -> str:
    """Run a command and return its stdout, failing loudly on error."""
    print("+", " ".join(cmd), file=sys.stderr)
    result = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    return result.stdout


def npm_metadata(pkg: Package, cwd: Path) -> dict[str, object]:
    """Return licence and tarball checksums from ``npm view``."""
    out = run(
        [
            "npm",
            "view",
            pkg.spec,
            "license",
            "licenses",
            "dist.integrity",
            "dist.shasum",
            "--json",
        ],
        cwd,
    )
    data = json.loads(out)
    if not isinstance(data, dict) or "dist.integrity" not in data:
        raise SystemExit(f"unexpected `npm view` output for {pkg.spec}: {out!r}")
    return data


def licence_of(pkg: Package, meta: dict[str, object]) -> str:
    """Return the SPDX-ish licence string of a package."""
    lic = meta.get("license")
    if isinstance(lic, str) and lic:
        return lic
    lics = meta.get("licenses")
    if isinstance(lics, list):
        types = [x.get("type") for x in lics if isinstance(x, dict)]
        types = [t for t in types if isinstance(t, str) and t]
        if types:
            return " OR ".join(types)
    if pkg.license_fallback:
        return pkg.license_fallback
    raise SystemExit(f"no licence found for {pkg.spec}")


def sri_sha512(path: Path) -> str:
    """Return the ``sha512-<base64>`` integrity string of a file."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def pack(pkg: Package, tmp: Path, meta: dict[str, object]) -> Path:
    """Download the package tarball with ``npm pack``; verify and extract it."""
    out = run(["npm", "pack", pkg.spec, "--json", "--silent"], tmp)
    info = json.loads(out)[0]
    tarball = tmp / info["filename"]
    integrity = sri_sha512(tarball)
    if integrity != meta["dist.integrity"] or integrity != info.get("integrity"):
        raise SystemExit(
            f"integrity mismatch for {pkg.spec}: tarball {integrity}, "
            f"registry {meta['dist.integrity']}"
        )
    shasum = hashlib.sha1(tarball.read_bytes()).hexdigest()
    if shasum != meta["dist.shasum"]:
        raise SystemExit(f"shasum mismatch for {pkg.spec}")
    extract_dir = tmp / pkg.short
    with tarfile.open(tarball) as tar:
        tar.extractall(extract_dir, filter="data")
    root = extract_dir / "package"
    if not root.is_dir():
        raise SystemExit(f"{pkg.spec}: tarball has no package/ directory")
    return root


def css_relative_refs(css: str) -> list[str]:
    """Return the relative file references of ``url(...)`` in a stylesheet."""
    refs = []
    for _, raw in CSS_URL_RE.findall(css):
        ref = raw.strip()
        if not ref or ref.startswith(("data:", "#")):
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//", ref, re.IGNORECASE):
            raise SystemExit(f"stylesheet references a remote URL: {ref}")
        ref = re.split(r"[?#]", ref, maxsplit=1)[0]
        if ref.startswith("/"):
            raise SystemExit(f"stylesheet references an absolute path: {ref}")
        refs.append(ref)
    return list(dict.fromkeys(refs))


def copy_file(src: Path, dest: Path, copied: dict[Path, Path]) -> None:
    """Copy one file, refusing source maps and recording the copy."""
    if src.suffix == ".map":
        raise SystemExit(f"refusing to vendor a source map: {src}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    copied[dest] = src


def vendor(pkg: Package, root: Path) -> list[str]:
    """Copy a package's needed files into static/vendor/<short>/.

    Returns the copied paths, relative to the package's vendor directory.
    """
    dest_root = VENDOR_DIR / pkg.short
    if dest_root.exists():
        shutil.rmtree(dest_root)
    dest_root.mkdir(parents=True)
    copied: dict[Path, Path] = {}

    for pattern, dest_dir in pkg.files.items():
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matches:
            raise SystemExit(f"{pkg.spec}: nothing matches {pattern}")
        for src in matches:
            copy_file(src, dest_root / dest_dir / src.name, copied)

    # Follow the relative url(...) references of the copied stylesheets.
    for dest, src in list(copied.items()):
        if dest.suffix != ".css":
            continue
        for ref in css_relative_refs(src.read_text(encoding="utf-8")):
            ref_src = (src.parent / ref).resolve()
            ref_dest = (dest.parent / ref).resolve()
            if not ref_src.is_relative_to(root.resolve()):
                raise SystemExit(f"{pkg.spec}: {ref} escapes the package")
            if not ref_dest.is_relative_to(dest_root.resolve()):
                raise SystemExit(f"{pkg.spec}: {ref} escapes {dest_root}")
            if not ref_src.is_file():
                raise SystemExit(f"{pkg.spec}: {src.name} references missing {ref}")
            if ref_dest not in copied:
                copy_file(ref_src, ref_dest, copied)

    for name in pkg.license_files:
        copy_file(root / name, dest_root / name, copied)
    if pkg.generated_license:
        (dest_root / pkg.generated_license).write_text(
            AWESOME_MARKERS_LICENSE, encoding="utf-8"
        )
        copied[dest_root / pkg.generated_license] = dest_root

    return sorted(p.relative_to(dest_root).as_posix() for p in copied)


def write_shim() -> str:
    """Write the project-local Leaflet icon-path shim; return its path."""
    shim_dir = VENDOR_DIR / SHIM_DIR
    if shim_dir.exists():
        shutil.rmtree(shim_dir)
    shim_dir.mkdir(parents=True)
    (shim_dir / SHIM_FILE).write_text(SHIM_JS, encoding="utf-8")
    return f"{SHIM_DIR}/{SHIM_FILE}"


def human_size(n: int) -> str:
    """Format a byte count."""
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 2**20:.2f} MiB"


def write_sources(rows: list[dict[str, object]], shim: str) -> None:
    """Write static/vendor/SOURCES.md."""
    lines = [
        "# Vendored front-end assets",
        "",
        "Generated by `python scripts/vendor_assets.py`; do not edit by hand.",
        "",
        "These are the JS/CSS files folium 0.20.0 (and its MarkerCluster plugin)",
        "would otherwise load from CDNs. `lib/rendering/web/assets.py` points folium",
        "at them (served by Streamlit at `/app/static/vendor/`) so the map works",
        "offline. Files are byte-identical copies from the npm tarballs (except",
        "the generated files listed under Notes); each tarball's sha512 was",
        "checked against the registry's `dist.integrity`; source",
        "maps are not copied (the `sourceMappingURL` comments remain, harmless",
        "outside the browser's developer tools).",
        "",
        "| Package | Version | Licence | Directory | Files copied"
        " | npm `dist.integrity` / `dist.shasum` |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        files = "<br>".join(f"`{f}`" for f in row["files"])  # type: ignore[union-attr]
        lines.append(
            f"| `{row['name']}` | {row['version']} | {row['licence']} "
            f"| `{row['short']}/` | {files} "
            f"| `{row['integrity']}`<br>`{row['shasum']}` |"
        )
    lines += ["", "## Notes", ""]
    for row in rows:
        if row["notes"]:
            lines.append(f"- `{row['name']}`: {row['notes']}")
    lines += [
        f"- `{shim}` is not from npm: it is a small project shim written by",
        "  the script that sets `L.Icon.Default.imagePath` to the vendored",
        "  `leaflet/images/`, because Leaflet's auto-detection fails when",
        "  leaflet.css is not applied yet (streamlit-folium issue #275).",
        "- Not vendored on purpose (dropped by `lib/rendering/web/assets.py`): the",
        "  Bootstrap 3 glyphicons stylesheet and folium's",
        "  `leaflet.awesome.rotate.min.css`.",
        "",
        "## Updating",
        "",
        "Bump the versions in `PACKAGES` in `scripts/vendor_assets.py` to the",
        "ones the new folium references, update the URL map in",
        "`lib/rendering/web/assets.py`, rerun the script, then run",
        "`python -m pytest tests/test_map_assets.py`.",
        "",
    ]
    SOURCES_MD.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    """Vendor every package and write SOURCES.md."""
    if shutil.which("npm") is None:
        print("npm is required", file=sys.stderr)
        return 1
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="vendor-assets-") as tmpdir:
        tmp = Path(tmpdir)
        for pkg in PACKAGES:
            meta = npm_metadata(pkg, tmp)
            root = pack(pkg, tmp, meta)
            files = vendor(pkg, root)
            rows.append(
                {
                    "name": pkg.name,
                    "version": pkg.version,
                    "short": pkg.short,
                    "licence": licence_of(pkg, meta),
                    "files": files,
                    "integrity": meta["dist.integrity"],
                    "shasum": meta["dist.shasum"],
                    "notes": pkg.notes,
                }
            )
    shim = write_shim()
    write_sources(rows, shim)

    total = sum(p.stat().st_size for p in VENDOR_DIR.rglob("*") if p.is_file())
    for row in rows:
        print(f"{row['name']}@{row['version']}: {len(row['files'])} files")  # type: ignore[arg-type]
    print(f"{PurePosixPath(VENDOR_DIR.relative_to(REPO_ROOT))}: {human_size(total)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
