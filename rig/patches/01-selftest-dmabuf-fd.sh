#!/usr/bin/env bash
# Linux 7.3.4's mock returns 0 instead of the new dma-buf fd from
# iommufd_test_dmabuf_get(), so the kernel's own dmabuf selftests (8 of them) use fd 0.
# Return the fd. Idempotent; a no-op on a kernel where the bug is fixed.
set -euo pipefail
f=$1/drivers/iommu/iommufd/selftest.c
python3 - "$f" <<'PY'
import re, sys
path = sys.argv[1]
src = open(path).read()
bug = "\trc = dma_buf_fd(dmabuf, open_flags);\n\tif (rc < 0) {\n\t\tdma_buf_put(dmabuf);\n\t\treturn rc;\n\t}\n\treturn 0;\n"
if bug in src:
    src = src.replace(bug, bug[: -len("\treturn 0;\n")] + "\treturn rc;\n")
    open(path, "w").write(src)
    print("patched iommufd_test_dmabuf_get", file=sys.stderr)
else:
    print("dmabuf fd patch not needed", file=sys.stderr)
PY
