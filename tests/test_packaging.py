"""The installed package holds every module: each directory of litequeue/ is a regular package."""

from pathlib import Path

import litequeue


def test_every_directory_of_the_package_has_an_init_so_a_plain_install_includes_it():
    root = Path(litequeue.__file__).parent
    missing = [str(d.relative_to(root)) for d in root.rglob("*")
               if d.is_dir() and d.name != "__pycache__" and not (d / "__init__.py").exists()]
    assert missing == []


def test_setup_cfg_finds_every_subpackage():
    import pytest

    find_packages = pytest.importorskip("setuptools").find_packages

    root = Path(litequeue.__file__).parent.parent
    found = set(find_packages(str(root), include=["litequeue", "litequeue.*"]))
    assert {"litequeue", "litequeue.store", "litequeue.worker", "litequeue.cli"} <= found


def test_every_command_is_reachable_through_the_lazy_command_table():
    import importlib

    from litequeue.cli import COMMAND_MODULES, main

    defined = {}
    for module_name in set(COMMAND_MODULES.values()):
        for command in importlib.import_module(f"litequeue.cli.{module_name}").COMMANDS:
            defined[command.name] = module_name
    assert defined == COMMAND_MODULES
    for name in COMMAND_MODULES:
        assert main.get_command(None, name).name == name
    assert main.get_command(None, "no-such-command") is None
