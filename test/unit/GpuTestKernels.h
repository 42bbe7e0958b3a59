//===- GpuTestKernels.h - hand-written CUDA kernels for tests --*- C++ -*-===//
//
// A naive attention written directly in the gpu dialect, in the launch-plan
// form the CUDA backend reads (runtime/GpuKernel.h): the host @attention
// casts its ABI memrefs to static identity ones, allocates a scratch buffer
// and launches two kernels, the second with 64 KiB of dynamic shared memory
// (above the 48 KiB default, so the backend must raise the limit). One
// thread per query row: the first kernel writes each row's log-sum-exp to
// the scratch, the second the output. exp/log are PTX ex2/lg2 (no libdevice
// needed). It tests the backend independently of the attn-gpu-flash pass.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_UNIT_GPUTESTKERNELS_H
#define ATTN_TEST_UNIT_GPUTESTKERNELS_H

#include "runtime/KernelSignature.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace attn_test {

/// MHA, bhsd, no mask, f16 or bf16 q/k/v/out; B, H, Sq, Skv, D any.
inline std::string naiveGpuAttention(const mlir::attn::AttentionSpec &s) {
  auto n = [](int64_t v) { return std::to_string(v); };
  std::string t = s.dtype == mlir::attn::ElementType::F16 ? "f16" : "bf16";
  std::string B = n(s.batch), H = n(s.numHeads), SQ = n(s.queryLen),
              SKV = n(s.kvLen), D = n(s.headDim);
  int64_t rows = s.batch * s.numHeads * s.queryLen;
  std::string ROWS = n(rows), HSQ = n(s.numHeads * s.queryLen);
  std::string strided = ", strided<[?, ?, ?, 1], offset: ?>>";
  std::string qT = "memref<" + B + "x" + H + "x" + SQ + "x" + D + "x" + t;
  std::string kT = "memref<" + B + "x" + H + "x" + SKV + "x" + D + "x" + t;
  std::string lT = "memref<" + ROWS + "xf32>";
  float scale = 1.0f / std::sqrt(float(s.headDim));
  char scaleText[64];
  std::snprintf(scaleText, sizeof scaleText, "%.9e", double(scale));
  // Row index -> (b, h, i), and the dot product q[b,h,i,:]·k[b,h,j,:].
  std::string rowIndex = R"(
      %hsq = arith.constant )" +
                         HSQ + R"( : index
      %sq = arith.constant )" +
                         SQ + R"( : index
      %nh = arith.constant )" +
                         H + R"( : index
      %b = arith.divui %r, %hsq : index
      %rh = arith.divui %r, %sq : index
      %h = arith.remui %rh, %nh : index
      %i = arith.remui %r, %sq : index
      %n = arith.index_cast %skv : i32 to index
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %d = arith.constant )" +
                         D + R"( : index
      %zero = arith.constant 0.0 : f32
      %log2e = arith.constant 1.44269504 : f32
)";
  auto dot = [&](const std::string &res, const std::string &j) {
    return "      " + res +
           " = scf.for %x = %c0 to %d step %c1 iter_args(%acc = %zero) -> f32 "
           "{\n"
           "        %qa = memref.load %q[%b, %h, %i, %x] : " +
           qT +
           ">\n"
           "        %ka = memref.load %k[%b, %h, " +
           j + ", %x] : " + kT +
           ">\n"
           "        %qf = arith.extf %qa : " +
           t +
           " to f32\n"
           "        %kf = arith.extf %ka : " +
           t +
           " to f32\n"
           "        %p = arith.mulf %qf, %kf : f32\n"
           "        %a2 = arith.addf %acc, %p : f32\n"
           "        scf.yield %a2 : f32\n"
           "      }\n";
  };
  std::string threadRow = R"(
    %bid = gpu.block_id x
    %bdim = gpu.block_dim x
    %tid = gpu.thread_id x
    %base = arith.muli %bid, %bdim : index
    %r = arith.addi %base, %tid : index
    %rows = arith.constant )" +
                          ROWS + R"( : index
    %in = arith.cmpi ult, %r, %rows : index
)";
  std::string text = R"(
module attributes {gpu.container_module} {
  func.func @attention(%qa: )" +
                     qT + strided + ", %ka: " + kT + strided + ", %va: " + kT +
                     strided + ", %oa: " + qT + strided +
                     R"() {
    %c1 = arith.constant 1 : index
    %grid = arith.constant )" +
                     n((rows + 127) / 128) + R"( : index
    %block = arith.constant 128 : index
    %skv = arith.constant )" +
                     SKV + R"( : i32
    %scale = arith.constant )" +
                     scaleText + R"( : f32
    %smem = arith.constant 65536 : i32
    %q = memref.cast %qa : )" +
                     qT + strided + " to " + qT + R"(>
    %k = memref.cast %ka : )" +
                     kT + strided + " to " + kT + R"(>
    %v = memref.cast %va : )" +
                     kT + strided + " to " + kT + R"(>
    %o = memref.cast %oa : )" +
                     qT + strided + " to " + qT + R"(>
    %lse = memref.alloc() : )" +
                     lT + R"(
    gpu.launch_func @attn_gpu::@row_lse blocks in (%grid, %c1, %c1)
        threads in (%block, %c1, %c1)
        args(%q : )" +
                     qT + ">, %k : " + kT + ">, %lse : " + lT +
                     R"(, %skv : i32, %scale : f32)
    gpu.launch_func @attn_gpu::@row_out blocks in (%grid, %c1, %c1)
        threads in (%block, %c1, %c1) dynamic_shared_memory_size %smem
        args(%q : )" +
                     qT + ">, %k : " + kT + ">, %v : " + kT +
                     ">, %lse : " + lT + ", %o : " + qT +
                     R"(>, %skv : i32, %scale : f32)
    return
  }
  gpu.module @attn_gpu {
    gpu.func @row_lse(%q: )" +
                     qT + ">, %k: " + kT + ">, %lse: " + lT +
                     R"(, %skv: i32, %scale: f32) kernel {)" + threadRow +
                     R"(
    scf.if %in {)" + rowIndex +
                     R"(
      %ninf = arith.constant 0xFF800000 : f32
      %m = scf.for %j = %c0 to %n step %c1 iter_args(%mx = %ninf) -> f32 {
)" + dot("%s", "%j") +
                     R"(
        %ss = arith.mulf %s, %scale : f32
        %mx2 = arith.maximumf %mx, %ss : f32
        scf.yield %mx2 : f32
      }
      %l = scf.for %j = %c0 to %n step %c1 iter_args(%sum = %zero) -> f32 {
)" + dot("%s", "%j") +
                     R"(
        %ss = arith.mulf %s, %scale : f32
        %t0 = arith.subf %ss, %m : f32
        %t1 = arith.mulf %t0, %log2e : f32
        %e = nvvm.inline_ptx "ex2.approx.f32 $0, $1;" ro(%t1 : f32) -> f32
        %s2 = arith.addf %sum, %e : f32
        scf.yield %s2 : f32
      }
      %lg2 = nvvm.inline_ptx "lg2.approx.f32 $0, $1;" ro(%l : f32) -> f32
      %ln2 = arith.constant 0.693147182 : f32
      %lg = arith.mulf %lg2, %ln2 : f32
      %res = arith.addf %m, %lg : f32
      memref.store %res, %lse[%r] : )" +
                     lT + R"(
    }
    gpu.return
  }
    gpu.func @row_out(%q: )" +
                     qT + ">, %k: " + kT + ">, %v: " + kT + ">, %lse: " + lT +
                     ", %o: " + qT + R"(>, %skv: i32, %scale: f32) kernel {)" +
                     threadRow +
                     R"(
    scf.if %in {)" + rowIndex +
                     R"(
      %lrow = memref.load %lse[%r] : )" +
                     lT + R"(
      scf.for %y = %c0 to %d step %c1 {
        %accv = scf.for %j = %c0 to %n step %c1 iter_args(%sum = %zero) -> f32 {
)" + dot("%s", "%j") +
                     R"(
          %ss = arith.mulf %s, %scale : f32
          %t0 = arith.subf %ss, %lrow : f32
          %t1 = arith.mulf %t0, %log2e : f32
          %e = nvvm.inline_ptx "ex2.approx.f32 $0, $1;" ro(%t1 : f32) -> f32
          %va = memref.load %v[%b, %h, %j, %y] : )" +
                     kT + R"(>
          %vf = arith.extf %va : )" +
                     t + R"( to f32
          %pv = arith.mulf %e, %vf : f32
          %s2 = arith.addf %sum, %pv : f32
          scf.yield %s2 : f32
        }
        %ot = arith.truncf %accv : f32 to )" +
                     t + R"(
        memref.store %ot, %o[%b, %h, %i, %y] : )" +
                     qT + R"(>
      }
    }
    gpu.return
  }
  }
}
)";
  return text;
}

/// A host function in launch-plan form with one tensor-map scratch buffer
/// (`memref.alloc() {attn.tensor_map = #attn.tensor_map<<attrs>>} : <type>`)
/// over its key
/// (1x2x128x64 bf16), and a kernel @read_map that copies the map's 16
/// words, as 32 i32 halves (low first), to its output memref<32xi32>. With
/// `binary`, the gpu.module is replaced by a stand-in gpu.binary (the plan
/// reader needs no real code; `type` may then be any memref).
inline std::string
tensorMapGpuModule(const std::string &attrs,
                   const std::string &type = "memref<16xi64>",
                   bool binary = false) {
  std::string kT = "memref<1x2x128x64xbf16";
  std::string strided = ", strided<[?, ?, ?, 1], offset: ?>>";
  std::string oT = "memref<32xi32";
  std::string text = R"(
module attributes {gpu.container_module} {
  func.func @attention(%ka: )" +
                     kT + strided + ", %oa: " + oT +
                     R"(, strided<[?], offset: ?>>) {
    %c1 = arith.constant 1 : index
    %k = memref.cast %ka : )" +
                     kT + strided + " to " + kT + R"(>
    %o = memref.cast %oa : )" +
                     oT + ", strided<[?], offset: ?>> to " + oT + R"(>
    %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<)" +
                     attrs + ">} : " + type + R"(
    gpu.launch_func @attn_gpu::@read_map blocks in (%c1, %c1, %c1)
        threads in (%c1, %c1, %c1)
        args(%tm : )" +
                     type + ", %k : " + kT + ">, %o : " + oT + R"(>)
    return
  }
)";
  if (binary)
    return text +
           R"(  gpu.binary @attn_gpu [#gpu.object<#nvvm.target<chip = "sm_90">, assembly = "// stand-in">]
}
)";
  return text + R"(  gpu.module @attn_gpu {
    gpu.func @read_map(%tm: )" +
         type + ", %k: " + kT + ">, %o: " + oT + R"(>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c16 = arith.constant 16 : index
      %c32 = arith.constant 32 : i64
      scf.for %i = %c0 to %c16 step %c1 {
        %w = memref.load %tm[%i] : )" +
         type + R"(
        %lo = arith.trunci %w : i64 to i32
        %s = arith.shrui %w, %c32 : i64
        %hi = arith.trunci %s : i64 to i32
        %j = arith.addi %i, %i : index
        %j1 = arith.addi %j, %c1 : index
        memref.store %lo, %o[%j] : )" +
         oT + R"(>
        memref.store %hi, %o[%j1] : )" +
         oT + R"(>
      }
      gpu.return
    }
  }
}
)";
}

} // namespace attn_test

#endif
