"""Write one front-check file whose column for each class comes from another check file.

    python scripts/merge_front_columns.py --column small_vehicle=CHECK_A.onnx \\
        --column large_vehicle=CHECK_B.onnx --column heavy_equipment=CHECK_B.onnx \\
        --calibration-from CHECK_A.onnx --version V --out OUT.onnx

Each class answers exactly as in its source file (weights untouched; see
``front_fit.merge_front_columns``). The check that runs with the detector's
JPEG variant was made so (model card, "The front check for JPEG imagery").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--column", action="append", required=True, metavar="CLASS=FILE",
                    help="a class and the check file whose column it keeps (repeat per class)")
    ap.add_argument("--calibration-from", type=Path, help="the check file whose calibration the output carries")
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    columns = {}
    for item in a.column:
        cls, sep, path = item.partition("=")
        if not sep or not cls or not path:
            ap.error(f"--column needs CLASS=FILE, got {item!r}")
        columns[cls] = Path(path)

    from borderwatch.analysis.detect.front_fit import merge_front_columns

    model = merge_front_columns(columns, a.out, version=a.version, calibration_from=a.calibration_from)
    print(f"wrote {a.out}: version {model.version}, classes {model.classes}, calibration {model.calibration}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
