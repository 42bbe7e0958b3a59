# -*- Python -*-
import os
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "attn"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "unit", "Inputs"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%cuda_toolkit", config.cuda_toolkit))
config.substitutions.append(("%attn_src", os.path.dirname(config.test_source_root)))
config.substitutions.append(("%python", sys.executable))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
# FileCheck, not, count: Debian ships them in the LLVM tools dir, not on PATH.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.use_default_substitutions()
# No disk kernel cache unless a test names one (ATTN_CACHE_DIR=%t...): runs
# must not depend on what an earlier run left in ~/.cache/attn.
config.environment["ATTN_CACHE_DIR"] = "off"

tool_dirs = [config.attn_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["attn-opt", "attn-run", "attn-convert", "attn-bench-compile-latency", "attn-bench-serving", "mlir-opt"], tool_dirs)
# The CPU benchmarks (built where OpenBLAS is found: the prefill one).
for bench in ["attn-bench-cpu-prefill", "attn-bench-cpu-decode"]:
    if os.path.exists(os.path.join(config.attn_tools_dir, bench)):
        config.available_features.add(bench)
        llvm_config.add_tool_substitutions([bench], tool_dirs)

# The ONNX importer (built where libonnx-dev is found).
if os.path.exists(os.path.join(config.attn_tools_dir, "attn-import-onnx")):
    config.available_features.add("attn-import-onnx")
    llvm_config.add_tool_substitutions(["attn-import-onnx"], tool_dirs)
config.substitutions.append(("%onnx_models", os.path.join(config.test_source_root, "onnx", "models")))

if os.path.exists(os.path.join(config.cuda_toolkit, "bin", "ptxas")):
    config.available_features.add("ptxas")
