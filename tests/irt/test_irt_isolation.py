import ast
import pathlib

import cat_server.irt

IRT = pathlib.Path(cat_server.irt.__file__).parent


def test_irt_imports_nothing_from_the_rest_of_cat_server():
    allowed_top = {
        "numpy",
        "scipy",
        "dataclasses",
        "typing",
        "math",
        "time",
        "csv",
        "io",
        "os",
        "tempfile",
        "functools",
        "itertools",
        "__future__",
    }
    for path in IRT.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    assert node.module.split(".")[0] in allowed_top, (path.name, node.module)
                else:
                    assert node.level == 1, (path.name, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in allowed_top, (path.name, alias.name)
