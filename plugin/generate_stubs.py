#!/usr/bin/env python3
"""Generate the collection's Python gRPC stubs from proto/, or check that the committed ones are current.

    python plugin/generate_stubs.py           write the stubs into the collection's module_utils
    python plugin/generate_stubs.py --check   exit 1, naming the stale files, when they differ from the .proto

The stubs ship inside the collection so an installed collection needs only grpcio and protobuf from pip.
protoc writes imports as if the .proto package were a top-level Python package (voip.inventory.v1); an
installed collection is only importable under ansible_collections, so those imports are rewritten.
"""

from __future__ import annotations

import argparse
import difflib
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / 'proto'
PROTO_FILE = PROTO_ROOT / 'voip' / 'inventory' / 'v1' / 'inventory.proto'
COLLECTION = ROOT / 'collections' / 'ansible_collections' / 'voip' / 'infrastructure'
MODULE_UTILS = COLLECTION / 'plugins' / 'module_utils'
MODULE_UTILS_PACKAGE = 'ansible_collections.voip.infrastructure.plugins.module_utils'
PROTO_PYTHON_PACKAGE = 'voip.inventory.v1'
STUB_NAMES = ('inventory_pb2.py', 'inventory_pb2_grpc.py')
REGENERATE = 'python plugin/generate_stubs.py'

_PROTO_IMPORT = re.compile(r'^from ' + re.escape(PROTO_PYTHON_PACKAGE) + r' import (\w+) as (\w+)$', re.MULTILINE)
_PROTO_TOP_PACKAGE = PROTO_PYTHON_PACKAGE.split('.')[0]
_LEFTOVER_IMPORT = re.compile(r'^\s*(from|import) ' + re.escape(_PROTO_TOP_PACKAGE) + r'\b', re.MULTILINE)


def run_protoc(out_dir: pathlib.Path) -> None:
    """Runs grpcio-tools' protoc; `python -m grpc_tools.protoc` adds the well-known types' include path itself."""
    command = [
        sys.executable, '-m', 'grpc_tools.protoc',
        f'--proto_path={PROTO_ROOT}',
        f'--python_out={out_dir}',
        f'--grpc_python_out={out_dir}',
        str(PROTO_FILE),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f'generate_stubs: protoc failed on {PROTO_FILE.relative_to(ROOT)}:\n{result.stderr}')


def collection_relative(source: str, name: str) -> str:
    """Points protoc's imports of sibling stubs at the collection's module_utils."""
    rewritten = _PROTO_IMPORT.sub(rf'from {MODULE_UTILS_PACKAGE} import \1 as \2', source)
    leftover = _LEFTOVER_IMPORT.search(rewritten)
    if leftover:
        sys.exit(f'generate_stubs: {name} still imports the proto package directly ({leftover.group(0).strip()!r}); '
                 'the import rewriting in plugin/generate_stubs.py needs updating for this protoc output')
    return rewritten


def generate() -> dict[str, str]:
    """Returns the stubs' text by file name, as they belong in module_utils."""
    try:
        import grpc_tools  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        sys.exit('generate_stubs: grpcio-tools is not installed in this Python; '
                 'install the pinned tools with: pip install -r plugin/requirements-dev.txt')
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = pathlib.Path(tmp)
        run_protoc(out_dir)
        generated = out_dir / PROTO_PYTHON_PACKAGE.replace('.', '/')
        return {name: collection_relative((generated / name).read_text(encoding='utf-8'), name) for name in STUB_NAMES}


def write(stubs: dict[str, str]) -> None:
    MODULE_UTILS.mkdir(parents=True, exist_ok=True)
    for name, text in stubs.items():
        (MODULE_UTILS / name).write_text(text, encoding='utf-8')
        print(f'generate_stubs: wrote {(MODULE_UTILS / name).relative_to(ROOT)}')


def check(stubs: dict[str, str]) -> int:
    """Returns 0 when every committed stub equals a fresh generation, else prints the differences and returns 1."""
    stale = []
    for name, text in stubs.items():
        path = MODULE_UTILS / name
        committed = path.read_text(encoding='utf-8') if path.exists() else None
        if committed == text:
            continue
        stale.append(path.relative_to(ROOT))
        if committed is None:
            print(f'generate_stubs: {path.relative_to(ROOT)} is missing', file=sys.stderr)
            continue
        diff = difflib.unified_diff(committed.splitlines(True), text.splitlines(True),
                                    f'{name} (committed)', f'{name} (from the .proto)', n=1)
        sys.stderr.writelines(list(diff)[:40])
    if stale:
        print(f'generate_stubs: stale generated stubs: {", ".join(map(str, stale))}.\n'
              f'  They no longer match {PROTO_FILE.relative_to(ROOT)} and the pinned grpcio-tools. '
              f'Regenerate them with: {REGENERATE}', file=sys.stderr)
        return 1
    print(f'generate_stubs: {", ".join(STUB_NAMES)} are current')
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='fail when the committed stubs differ from the .proto')
    args = parser.parse_args()
    stubs = generate()
    if args.check:
        return check(stubs)
    write(stubs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
