"""Generate the Python code for protos/ with grpcio-tools, or check that it is current.

Usage: python -m tools.protos generate | check
"""

from __future__ import annotations

import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent.parent / "protos"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> None:
    """Run protoc over every .proto file, writing modules, stubs and package markers."""
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(path.relative_to(PROTO_ROOT)) for path in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")

    for package_dir in {path.parent for path in out_dir.rglob("*_pb2.py")}:
        while package_dir != out_dir:
            (package_dir / "__init__.py").touch()
            package_dir = package_dir.parent


def generated_files(root: Path) -> set[Path]:
    return {
        path.relative_to(root)
        for path in root.rglob("*")
        if path.name.endswith(GENERATED_SUFFIXES) or path.name == "__init__.py"
    }


def check() -> list[str]:
    """Return the generated files that differ from a fresh generation."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh_root = Path(scratch)
        generate(fresh_root)
        fresh = generated_files(fresh_root)
        committed = generated_files(PROTO_ROOT)
        stale = sorted(str(path) for path in fresh ^ committed)
        for path in sorted(fresh & committed):
            if not filecmp.cmp(fresh_root / path, PROTO_ROOT / path, shallow=False):
                stale.append(str(path))
        return stale


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "generate":
        generate(PROTO_ROOT)
        return 0
    if command == "check":
        stale = check()
        if stale:
            print("generated code is stale; run `make protos` and commit the result:")
            print("\n".join(f"  protos/{path}" for path in stale))
            return 1
        print("generated code is current")
        return 0
    print(__doc__.strip())
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
