//===- BackwardKernel.cpp - the attention backward on mma.sync ------------===//
//
// FlashAttention-2's backward, K/V-tile outer: a block owns 64 keys of one
// (batch, KV head) (warp w: keys 16w..16w+15, the M of every mma whose
// result is indexed by key) and walks the rows of its group (the
// forward's row order: every query head of a GQA group passes by, so dK
// and dV sum over the group in registers). Per Q tile of `tileRows` rows,
// staged with Q, dO, lse and D through a two-deep cp.async ring:
//
//   Sᵀ  = K·Qᵀ             (A: K rows, ldmatrix; B: Q rows, ldmatrix)
//   Pᵀ  = exp2(Sᵀ·scale·log2e - lse·log2e), masked
//   dV += Pᵀ·dO            (A: Pᵀ from the Sᵀ accumulators; B: dO, .trans)
//   dPᵀ = V·dOᵀ
//   dSᵀ = Pᵀ ∘ (dPᵀ - D)
//   dK += dSᵀ·Q            (B: Q, .trans)
//   dQ += dS·K             (dSᵀ through shared memory, A by ldmatrix.trans;
//                          f32 atomics into the accumulator)
//
// Working transposed (keys as M) is what keeps Pᵀ and dSᵀ in the C-fragment
// layout that is also the A fragment of the dV / dK products (see the
// fragment facts in FlashKernel.cpp). Rows past the group's end are loaded
// clamped and have lse = +inf (P = 0); keys past Skv (or kv_lengths) are
// masked, their dK and dV stored as zeros; a row the
// forward saw nothing for (lse = -inf) gets P = 0 and so zero gradients.
// dK is scaled once at the store, dQ by the convert kernel.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/BackwardKernel.h"
#include "passes/gpu/KernelBuilder.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

namespace {

/// [n tile][4 f32]: the accumulators of one warp's 16-row M tile.
using Tiles = SmallVector<SmallVector<Value>>;

Tiles zeroTiles(int64_t n, Value zero) {
  return Tiles(n, SmallVector<Value>(4, zero));
}

class BackwardKernelEmitter : public KernelBuilder {
public:
  BackwardKernelEmitter(ImplicitLocOpBuilder &b, const GpuBackwardGeometry &g)
      : KernelBuilder(b, g), bg(g) {}
  void emit(gpu::GPUFuncOp func);

private:
  void bindArguments(Block &entry);
  void planSharedMemory();
  Value loadKv();
  Value loadRowTile(Value tile, Value stage);
  /// (head, query) of group row `row` (clamped to the last row).
  std::pair<Value, Value> rowHead(Value row);
  void emitStep(Value tile, Value stage, Tiles &dK, Tiles &dV);
  /// This warp's 16 rows of `keyRows` (K or V, [64][d]) times the stage's
  /// rows of `rowSmem` transposed: [tileRows / 8] tiles, keys as M.
  Tiles keyRowsTimesRowsT(Value keyRows, Value rowSmem, Value stage);
  /// acc (16 keys x d) += lhs (16 keys x tileRows) · the stage's rows.
  void accumulate(const Tiles &lhs, Value rowSmem, Value stage, Tiles &acc);
  void probabilities(Tiles &s, Value tile, Value stage);
  void storeDsT(const Tiles &ds);
  void accumulateDq(Value tile);
  void storeKeyRows(const Tiles &acc, Value mem, float factor);
  Value ldRow(Value smem, Value stage, Value col) {
    return memref::LoadOp::create(b, smem, ValueRange{stage, col});
  }

  const GpuBackwardGeometry &bg;
  Value q, k, v, kvLengths, dOut, lse, dsum, dqAcc, dk, dvOut;
  Value tid, lane, warp, m8, l8, kvHead, batch, key0, len;
  Value kSmem, vSmem, qSmem, doSmem, lseSmem, dSmem, dsSmem;
};

void BackwardKernelEmitter::bindArguments(Block &entry) {
  SmallVector<Value *> params = {&q, &k, &v};
  if (g.hasKvLengths)
    params.push_back(&kvLengths);
  params.append({&dOut, &lse, &dsum, &dqAcc, &dk, &dvOut});
  for (auto [i, p] : llvm::enumerate(params))
    *p = entry.getArgument(i);
  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  lane = im.rem(tid, 32);
  warp = im.div(tid, 32);
  m8 = im.div(lane, 8);
  l8 = im.rem(lane, 8);
  key0 = im.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), im.c(bg.tileKv));
  kvHead = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  // Keys this sequence has: Skv, or kv_lengths[b] clamped to [0, Skv].
  len = im.c(g.kvLen);
  if (kvLengths) {
    Value l = i32ToIndex(memref::LoadOp::create(b, kvLengths, batch));
    len = im.max(im.min(l, len), im.c(0));
  }
}

void BackwardKernelEmitter::planSharedMemory() {
  // K, V: [64][d + pad]; per stage Q, dO: [tileRows][d + pad], lse·log2e
  // and D: [tileRows] f32; dSᵀ: [64][tileRows + pad].
  MLIRContext *ctx = b.getContext();
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Type et = elemType(ctx, g);
  Value raw = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), nullptr, wg));
  const int64_t RK = g.smemRowElems(), BM = bg.tileRows, S = g.stages;
  int64_t offset = 0;
  auto view = [&](ArrayRef<int64_t> shape, Type t) {
    Value mem =
        memref::ViewOp::create(b, MemRefType::get(shape, t, nullptr, wg), raw,
                               im.c(offset), ValueRange{});
    int64_t n = t.getIntOrFloatBitWidth() / 8;
    for (int64_t d : shape)
      n *= d;
    offset += n;
    return mem;
  };
  kSmem = view({g.tileKv, RK}, et);
  vSmem = view({g.tileKv, RK}, et);
  qSmem = view({S, BM, RK}, et);
  doSmem = view({S, BM, RK}, et);
  lseSmem = view({S, BM}, b.getF32Type());
  dSmem = view({S, BM}, b.getF32Type());
  dsSmem = view({g.tileKv, bg.dsRowElems()}, et);
}

std::pair<Value, Value> BackwardKernelEmitter::rowHead(Value row) {
  const int64_t G = g.group;
  Value r = im.min(row, im.c(g.rows() - 1));
  return {im.add(im.mul(kvHead, G), im.rem(r, G)), im.div(r, G)};
}

Value BackwardKernelEmitter::loadKv() {
  // 16-byte copies; keys past Skv re-read the last one (masked later).
  auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  const int64_t perRow = g.headDim / 8, chunks = g.tileKv * perRow;
  SmallVector<Value> tokens;
  for (int64_t c = 0; c < chunks / g.threads(); ++c) {
    Value e = im.add(tid, c * g.threads());
    Value row = im.div(e, perRow), col = im.mul(im.rem(e, perRow), 8);
    Value key = im.min(im.add(key0, row), im.c(g.kvLen - 1));
    for (auto [mem, smem] : {std::pair{k, kSmem}, std::pair{v, vSmem}})
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, tokenTy, smem, ValueRange{row, col}, mem,
          at(batch, kvHead, key, col), b.getIndexAttr(8), Value(),
          b.getUnitAttr()));
  }
  return nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenTy, tokens);
}

Value BackwardKernelEmitter::loadRowTile(Value tile, Value stage) {
  auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  const int64_t BM = bg.tileRows, perRow = g.headDim / 8;
  const int64_t chunks = BM * perRow;
  Value rowBase = im.mul(tile, BM);
  SmallVector<Value> tokens;
  for (int64_t c = 0; c < (chunks + g.threads() - 1) / g.threads(); ++c) {
    // Threads past the last chunk copy it again (same bytes, same place).
    Value e = im.min(im.add(tid, c * g.threads()), im.c(chunks - 1));
    Value row = im.div(e, perRow), col = im.mul(im.rem(e, perRow), 8);
    auto [h, s] = rowHead(im.add(rowBase, row));
    for (auto [mem, smem] : {std::pair{q, qSmem}, std::pair{dOut, doSmem}})
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, tokenTy, smem, ValueRange{stage, row, col}, mem,
          at(batch, h, s, col), b.getIndexAttr(8), Value(), b.getUnitAttr()));
  }
  // lse in base 2 (+inf for rows past the end and rows that saw nothing:
  // their P is exp2(-inf) = 0) and D, by plain loads.
  auto first = scf::IfOp::create(b, im.lt(tid, im.c(BM)), false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(first.thenBlock());
    Value row = im.add(rowBase, tid);
    auto [h, s] = rowHead(row);
    Value l = memref::LoadOp::create(b, lse, ValueRange{batch, h, s});
    Value seen = arith::AndIOp::create(
        b, im.lt(row, im.c(g.rows())),
        arith::CmpFOp::create(b, arith::CmpFPredicate::ONE, l, cf(kNegInf)));
    float inf = std::numeric_limits<float>::infinity();
    memref::StoreOp::create(b, select(seen, fmul(l, cf(kLog2e)), cf(inf)),
                            lseSmem, ValueRange{stage, tid});
    memref::StoreOp::create(
        b, memref::LoadOp::create(b, dsum, ValueRange{batch, h, s}), dSmem,
        ValueRange{stage, tid});
  }
  return nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenTy, tokens);
}

Tiles BackwardKernelEmitter::keyRowsTimesRowsT(Value keyRows, Value rowSmem,
                                               Value stage) {
  const int64_t NT = bg.tileRows / 8;
  Tiles acc = zeroTiles(NT, cf(0));
  for (int64_t kc = 0; kc < g.headDim / 16; ++kc) {
    // A: (keys 0-7, k lo), (8-15, lo), (0-7, hi), (8-15, hi).
    Value aRow = im.add(im.mul(warp, 16), im.rem(lane, 16));
    Value aCol = im.add(im.mul(im.div(lane, 16), 8), im.c(kc * 16));
    auto a = ldmatrix4(keyRows, {aRow, aCol}, /*transpose=*/false);
    for (int64_t t = 0; t < NT; t += 2) {
      // B: (row tile t, k lo), (t, hi), (t+1, lo), (t+1, hi).
      Value row = im.add(im.mul(im.div(m8, 2), 8), im.add(l8, im.c(t * 8)));
      Value col = im.add(im.mul(im.rem(m8, 2), 8), im.c(kc * 16));
      auto f = ldmatrix4(rowSmem, {stage, row, col}, /*transpose=*/false);
      mma(a, {f[0], f[1]}, acc[t]);
      mma(a, {f[2], f[3]}, acc[t + 1]);
    }
  }
  return acc;
}

void BackwardKernelEmitter::accumulate(const Tiles &lhs, Value rowSmem,
                                       Value stage, Tiles &acc) {
  const int64_t NT = bg.tileRows / 8, DT = g.headDim / 8;
  for (int64_t kk = 0; kk < NT / 2; ++kk) {
    auto &lo = lhs[2 * kk], &hi = lhs[2 * kk + 1];
    SmallVector<Value, 4> a = {packPair(lo[0], lo[1]), packPair(lo[2], lo[3]),
                               packPair(hi[0], hi[1]), packPair(hi[2], hi[3])};
    for (int64_t t = 0; t < DT; t += 2) {
      // B (.trans): (rows lo, d tile t), (rows hi, t), (lo, t+1), (hi, t+1).
      Value row = im.add(im.c(kk * 16), im.add(im.mul(im.rem(m8, 2), 8), l8));
      Value col = im.mul(im.add(im.div(m8, 2), im.c(t)), 8);
      auto f = ldmatrix4(rowSmem, {stage, row, col}, /*transpose=*/true);
      mma(a, {f[0], f[1]}, acc[t]);
      mma(a, {f[2], f[3]}, acc[t + 1]);
    }
  }
}

void BackwardKernelEmitter::probabilities(Tiles &s, Value tile, Value stage) {
  // Element i of tile t: key lane/4 (+8 for i >= 2) of the warp, row
  // 8t + 2(lane%4) + i%2 of the tile.
  const int64_t NT = bg.tileRows / 8;
  const MaskSpec &mask = g.mask;
  Value keyLocal = im.add(im.mul(warp, 16), im.div(lane, 4));
  Value keys[2] = {im.add(key0, keyLocal), im.add(key0, im.add(keyLocal, 8))};
  bool ragged = g.kvLen % g.tileKv != 0 || g.hasKvLengths;
  Value scaleLog2 = cf(g.scale * kLog2e);
  Value rowBase = im.mul(tile, bg.tileRows);
  for (int64_t t = 0; t < NT; ++t)
    for (int64_t j = 0; j < 2; ++j) {
      Value col = im.add(im.mul(im.rem(lane, 4), 2), im.c(8 * t + j));
      Value base = ldRow(lseSmem, stage, col);
      Value qpos;
      if (mask.causal)
        qpos =
            im.add(im.div(im.add(rowBase, col), g.group), im.c(mask.qOffset));
      for (int64_t half = 0; half < 2; ++half) {
        Value &x = s[t][2 * half + j];
        x = fsub(fmul(x, scaleLog2), base);
        Value ok;
        if (ragged)
          ok = im.lt(keys[half], len);
        if (mask.causal) {
          Value c = im.le(keys[half], qpos);
          ok = ok ? arith::AndIOp::create(b, ok, c) : c;
        }
        if (ok)
          x = select(ok, x, cf(kNegInf));
        x = ex2(x);
      }
    }
}

void BackwardKernelEmitter::storeDsT(const Tiles &ds) {
  Type et = elemType(b.getContext(), g);
  auto pairTy = VectorType::get({2}, et);
  for (int64_t t = 0; t < bg.tileRows / 8; ++t)
    for (int64_t half = 0; half < 2; ++half) {
      Value key =
          im.add(im.mul(warp, 16), im.add(im.div(lane, 4), im.c(8 * half)));
      Value col = im.add(im.mul(im.rem(lane, 4), 2), im.c(8 * t));
      Value pair = vector::FromElementsOp::create(
          b, pairTy,
          ValueRange{arith::TruncFOp::create(b, et, ds[t][2 * half]),
                     arith::TruncFOp::create(b, et, ds[t][2 * half + 1])});
      vector::StoreOp::create(b, pair, dsSmem, ValueRange{key, col});
    }
}

void BackwardKernelEmitter::accumulateDq(Value tile) {
  // dQ (tileRows x d) = dS (tileRows x 64 keys) · K: warp w takes row tile
  // w % RT and a 1 / (4 / RT) share of the columns, dqCols at a time.
  const int64_t RT = bg.tileRows / 16, perTile = g.warps() / RT;
  const int64_t warpCols = g.headDim / perTile;
  Value rt = im.rem(warp, RT);
  Value colBase = im.mul(im.div(warp, RT), warpCols);
  Value rowBase = im.mul(tile, bg.tileRows);
  for (int64_t c0 = 0; c0 < warpCols; c0 += bg.dqCols) {
    const int64_t nTiles = std::min(bg.dqCols, warpCols - c0) / 8;
    Tiles acc = zeroTiles(nTiles, cf(0));
    for (int64_t kk = 0; kk < g.tileKv / 16; ++kk) {
      // A (.trans of dSᵀ): (rows lo, keys lo), (hi, lo), (lo, hi), (hi, hi).
      Value aKey = im.add(im.c(kk * 16), im.add(im.mul(im.div(m8, 2), 8), l8));
      Value aRow = im.add(im.mul(rt, 16), im.mul(im.rem(m8, 2), 8));
      auto a = ldmatrix4(dsSmem, {aKey, aRow}, /*transpose=*/true);
      for (int64_t t = 0; t < nTiles; t += 2) {
        const bool single = t + 1 == nTiles; // ldmatrix.x2: d tile t only
        Value key = im.add(im.c(kk * 16), im.add(im.mul(im.rem(m8, 2), 8), l8));
        Value col = im.add(im.add(colBase, im.c(c0)),
                           im.mul(im.add(im.div(m8, 2), im.c(t)), 8));
        auto f =
            ldmatrix4(kSmem, {key, col}, /*transpose=*/true, single ? 2 : 4);
        mma(a, {f[0], f[1]}, acc[t]);
        if (!single)
          mma(a, {f[2], f[3]}, acc[t + 1]);
      }
    }
    for (int64_t half = 0; half < 2; ++half) {
      Value row =
          im.add(rowBase, im.add(im.mul(rt, 16),
                                 im.add(im.div(lane, 4), im.c(8 * half))));
      auto inRange = scf::IfOp::create(b, im.lt(row, im.c(g.rows())), false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(inRange.thenBlock());
      auto [h, s] = rowHead(row);
      for (int64_t t = 0; t < nTiles; ++t)
        for (int64_t j = 0; j < 2; ++j) {
          Value col = im.add(im.add(colBase, im.c(c0 + 8 * t + j)),
                             im.mul(im.rem(lane, 4), 2));
          memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf,
                                      acc[t][2 * half + j], dqAcc,
                                      ValueRange{batch, h, s, col});
        }
    }
  }
}

void BackwardKernelEmitter::emitStep(Value tile, Value stage, Tiles &dK,
                                     Tiles &dV) {
  const int64_t NT = bg.tileRows / 8;
  Tiles p = keyRowsTimesRowsT(kSmem, qSmem, stage);
  probabilities(p, tile, stage);
  accumulate(p, doSmem, stage, dV);
  Tiles ds = keyRowsTimesRowsT(vSmem, doSmem, stage);
  for (int64_t t = 0; t < NT; ++t)
    for (int64_t j = 0; j < 2; ++j) {
      Value col = im.add(im.mul(im.rem(lane, 4), 2), im.c(8 * t + j));
      Value d = ldRow(dSmem, stage, col);
      for (int64_t half = 0; half < 2; ++half) {
        Value &x = ds[t][2 * half + j];
        x = fmul(p[t][2 * half + j], fsub(x, d));
      }
    }
  accumulate(ds, qSmem, stage, dK);
  storeDsT(ds);
  gpu::BarrierOp::create(b);
  accumulateDq(tile);
}

void BackwardKernelEmitter::storeKeyRows(const Tiles &acc, Value mem,
                                         float factor) {
  Type et = elemType(b.getContext(), g);
  for (int64_t half = 0; half < 2; ++half) {
    Value key = im.add(key0, im.add(im.mul(warp, 16),
                                    im.add(im.div(lane, 4), im.c(8 * half))));
    auto inRange = scf::IfOp::create(b, im.lt(key, im.c(g.kvLen)), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inRange.thenBlock());
    for (auto [t, tileAcc] : llvm::enumerate(acc)) {
      Value col = im.add(im.mul(im.rem(lane, 4), 2), im.c(8 * int64_t(t)));
      Value x0 = tileAcc[2 * half], x1 = tileAcc[2 * half + 1];
      if (factor != 1) {
        x0 = fmul(x0, cf(factor));
        x1 = fmul(x1, cf(factor));
      }
      Value pair = vector::FromElementsOp::create(
          b, VectorType::get({2}, et),
          ValueRange{arith::TruncFOp::create(b, et, x0),
                     arith::TruncFOp::create(b, et, x1)});
      vector::StoreOp::create(b, pair, mem, at(batch, kvHead, key, col));
    }
  }
}

void BackwardKernelEmitter::emit(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  bindArguments(entry);
  planSharedMemory();
  const int64_t DT = g.headDim / 8, qTiles = bg.qTiles();
  // The Q tiles that see a key of this block: causal rows start at query
  // key0 - q_offset.
  Value tileLo = im.c(0);
  if (g.mask.causal) {
    Value firstQuery = im.max(im.sub(key0, im.c(g.mask.qOffset)), im.c(0));
    tileLo =
        im.min(im.div(im.mul(firstQuery, g.group), bg.tileRows), im.c(qTiles));
  }
  Value numTiles = im.sub(im.c(qTiles), tileLo);
  auto clampTile = [&](Value t) { return im.min(t, im.c(qTiles - 1)); };
  loadKv();
  Value firstGroup = loadRowTile(clampTile(tileLo), im.c(0));

  SmallVector<Value> init(4 * 2 * DT, cf(0));
  auto loop = scf::ForOp::create(b, im.c(0), numTiles, im.c(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value it = loop.getInductionVar();
    Tiles dK = zeroTiles(DT, Value()), dV = zeroTiles(DT, Value());
    auto carried = loop.getRegionIterArgs();
    for (int64_t t = 0; t < DT; ++t)
      for (int64_t i = 0; i < 4; ++i) {
        dK[t][i] = carried[4 * t + i];
        dV[t][i] = carried[4 * (DT + t) + i];
      }
    Value tile = im.add(tileLo, it);
    // Prefetch the next tile into the stage the previous iteration read
    // (every warp left it at that iteration's closing barrier).
    Value next = loadRowTile(clampTile(im.add(tile, 1)),
                             im.rem(im.add(it, 1), g.stages));
    nvgpu::DeviceAsyncWaitOp::create(b, next, b.getI32IntegerAttr(1));
    gpu::BarrierOp::create(b);
    emitStep(tile, im.rem(it, g.stages), dK, dV);
    gpu::BarrierOp::create(b);
    SmallVector<Value> yield;
    for (const Tiles *acc : {&dK, &dV})
      for (auto &t4 : *acc)
        yield.append(t4.begin(), t4.end());
    scf::YieldOp::create(b, yield);
  }
  nvgpu::DeviceAsyncWaitOp::create(b, firstGroup, b.getI32IntegerAttr(0));
  Tiles dK = zeroTiles(DT, Value()), dV = zeroTiles(DT, Value());
  for (int64_t t = 0; t < DT; ++t)
    for (int64_t i = 0; i < 4; ++i) {
      dK[t][i] = loop.getResult(4 * t + i);
      dV[t][i] = loop.getResult(4 * (DT + t) + i);
    }
  storeKeyRows(dK, dk, g.scale);
  storeKeyRows(dV, dvOut, 1);
  gpu::ReturnOp::create(b);
}

} // namespace

gpu::GPUFuncOp mlir::attn::emitBackwardKernel(OpBuilder &ob, Location loc,
                                              const GpuBackwardGeometry &g,
                                              StringRef name) {
  MLIRContext *ctx = ob.getContext();
  SmallVector<Type> params = {gpuQueryType(ctx, g), gpuKvType(ctx, g),
                              gpuValueType(ctx, g)};
  if (g.hasKvLengths)
    params.push_back(gpuLengthsType(ctx, g));
  params.append({gpuOutputType(ctx, g), gpuLseType(ctx, g),
                 gpuRowStatsType(ctx, g), gpuDqAccumType(ctx, g),
                 gpuKvType(ctx, g), gpuValueType(ctx, g)});
  auto func = createKernelFunc(ob, loc, name, params, g.threads());
  ImplicitLocOpBuilder b(loc, ob);
  BackwardKernelEmitter(b, g).emit(func);
  return func;
}
