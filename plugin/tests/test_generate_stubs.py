"""The committed gRPC stubs are generated from the .proto, and the check says when they are not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

MODULE_UTILS = Path('collections/ansible_collections/voip/infrastructure/plugins/module_utils')
PROTO = Path('proto/voip/inventory/v1/inventory.proto')


def generate_stubs(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, root / 'plugin' / 'generate_stubs.py', *args], capture_output=True,
                          text=True, timeout=120, check=False)


def copy_of_the_checkout(tmp_path: Path) -> Path:
    """The generator, the .proto and the committed stubs, so a test can change them."""
    root = tmp_path / 'checkout'
    shutil.copytree(ROOT / 'proto', root / 'proto')
    (root / 'plugin').mkdir()
    shutil.copy(ROOT / 'plugin' / 'generate_stubs.py', root / 'plugin')
    shutil.copytree(ROOT / MODULE_UTILS, root / MODULE_UTILS)
    return root


def test_the_committed_stubs_are_current():
    result = generate_stubs(ROOT, '--check')

    assert result.returncode == 0, result.stderr
    assert 'are current' in result.stdout


def test_the_check_fails_and_says_how_to_regenerate_when_the_proto_changed(tmp_path):
    root = copy_of_the_checkout(tmp_path)
    proto = root / PROTO
    proto.write_text(proto.read_text().replace('  bool include_disabled = 2;\n',
                                               '  bool include_disabled = 2;\n  string owner = 3;\n'))

    result = generate_stubs(root, '--check')

    assert result.returncode == 1
    assert 'stale generated stubs' in result.stderr
    assert 'inventory_pb2.py' in result.stderr
    assert 'python plugin/generate_stubs.py' in result.stderr


def test_the_check_fails_when_a_stub_was_edited_by_hand(tmp_path):
    root = copy_of_the_checkout(tmp_path)
    stub = root / MODULE_UTILS / 'inventory_pb2_grpc.py'
    stub.write_text(stub.read_text() + '\n# a hand edit\n')

    result = generate_stubs(root, '--check')

    assert result.returncode == 1
    assert 'inventory_pb2_grpc.py' in result.stderr


def test_generating_rewrites_imports_to_the_collection_and_then_passes_the_check(tmp_path):
    root = copy_of_the_checkout(tmp_path)
    for stub in (root / MODULE_UTILS).glob('inventory_pb2*.py'):
        stub.unlink()

    generated = generate_stubs(root)
    checked = generate_stubs(root, '--check')

    grpc_stub = (root / MODULE_UTILS / 'inventory_pb2_grpc.py').read_text()
    assert generated.returncode == 0, generated.stderr
    assert checked.returncode == 0, checked.stderr
    assert ('from ansible_collections.voip.infrastructure.plugins.module_utils import inventory_pb2 as'
            in grpc_stub)
    assert 'from voip.inventory' not in grpc_stub
