"""The JavaScript SDK from pytest: its node --test suites, the committed build, its size, its install."""

import gzip
import json
import os
import shutil
import subprocess

import pytest
from js_sdk_support import BUILD, JS_DIR

GZIP_BUDGET_BYTES = 4 * 1024


def test_the_javascript_unit_suites_pass(node, js_modules):
    result = subprocess.run(
        [node, "--test", "test/"], cwd=JS_DIR, capture_output=True, text=True, timeout=300, check=False
    )
    summary = [line for line in result.stdout.splitlines() if line.startswith(("# pass", "# fail", "# skipped"))]
    print("\n".join(summary))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_the_committed_script_build_is_the_build_of_the_package_source(node, js_modules, tmp_path):
    fresh = tmp_path / "ascendkit.js"
    subprocess.run([node, "build.mjs", "--outfile", str(fresh)], cwd=JS_DIR, check=True, timeout=120)
    assert fresh.read_bytes() == BUILD.read_bytes(), (
        "static/ascendkit/ascendkit.js is stale: run `npm run build` in sdk/js and commit it"
    )


def test_the_script_stays_under_4_kib_gzipped():
    size = len(gzip.compress(BUILD.read_bytes(), compresslevel=9))
    print(f"static/ascendkit/ascendkit.js: {BUILD.stat().st_size} bytes, {size} bytes gzipped")
    assert size < GZIP_BUDGET_BYTES


def test_the_script_has_no_dependencies_and_loads_nothing_from_elsewhere():
    source = BUILD.read_text()
    assert "import " not in source and "require(" not in source
    # The only host it knows is the default API URL; the page's data-api-url overrides it.
    assert source.count("http://") == 1 and "http://127.0.0.1:8000" in source
    assert "https://" not in source


def test_npm_install_of_the_folder_gives_the_server_entry_and_the_types(node, tmp_path):
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    project = tmp_path / "app"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0", "type": "module"}))
    subprocess.run(
        [npm, "install", "--offline", "--no-audit", "--no-fund", str(JS_DIR)],
        cwd=project,
        check=True,
        timeout=120,
        capture_output=True,
    )
    check = (
        "import { Analytics } from '@ascendkit/nextjs/server';"
        "try { new Analytics(); console.log('constructed'); } catch (error) { console.log(error.message); }"
    )
    result = subprocess.run(
        [node, "--input-type=module", "-e", check],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={name: value for name, value in os.environ.items() if not name.startswith("ASCENDKIT_")},
        check=True,
    )
    assert "ASCENDKIT_SECRET_KEY" in result.stdout

    packed = subprocess.run(
        [npm, "pack", "--dry-run", "--json"], cwd=JS_DIR, capture_output=True, text=True, timeout=60, check=True
    )
    files = {entry["path"] for entry in json.loads(packed.stdout)[0]["files"]}
    assert {"src/index.js", "src/index.d.ts", "src/server.js", "src/server.d.ts", "package.json"} <= files
    assert not any(path.startswith("test/") for path in files)
