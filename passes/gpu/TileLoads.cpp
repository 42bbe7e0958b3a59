//===- TileLoads.cpp - cp.async copies of Q and the K/V tiles -------------===//
//
// Per-thread 16-byte cp.async copies into shared memory, one commit group
// per tile: the padded rows ldmatrix reads (mma.sync) or the 128-byte
// swizzled layout of the wgmma descriptors. Also what TMA kernels keep of
// them (Q, and the K/V tiles of paged caches, which span pages).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

std::pair<Value, Value> FlashKernelEmitter::swizzledColumn(Value row,
                                                           Value col) {
  const int64_t sw = GpuFlashGeometry::kSwizzleElems;
  Value chunk = im.div(im.rem(col, sw), 8);
  Value swz = arith::XOrIOp::create(b, chunk, im.rem(row, 8));
  return {im.div(col, sw), im.mul(swz, 8)};
}

void FlashKernelEmitter::copyElements(
    Value dst, ArrayRef<Value> dstPrefix, int64_t rows, int64_t padCols,
    int64_t cols, function_ref<SmallVector<Value>(Value row, Value col)> src,
    Value mem) {
  // A loop over the tile's elements, consecutive threads on consecutive
  // columns; columns past `cols` are zeros (a clamped load, then a select:
  // no branch).
  Type et = elemType(b.getContext(), g);
  auto loop =
      scf::ForOp::create(b, tid, im.c(rows * padCols), im.c(g.threads()));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value e = loop.getInductionVar();
  Value row = im.div(e, padCols), col = im.rem(e, padCols);
  Value x =
      memref::LoadOp::create(b, mem, src(row, im.min(col, im.c(cols - 1))));
  Value zero = arith::ConstantOp::create(b, b.getZeroAttr(et));
  x = select(im.lt(col, im.c(cols)), x, zero);
  SmallVector<Value> idx(dstPrefix);
  idx.append({row, col});
  memref::StoreOp::create(b, x, dst, idx);
}

void FlashKernelEmitter::loadQ() {
  // Q: registers for the whole loop (one m tile), or staged in shared
  // memory and re-read per k step (two m tiles would not fit registers).
  const int64_t D = g.dPad(), kSteps = (D + 15) / 16;
  auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  qFrag.assign(kSteps, {});
  if (g.elementLoads()) {
    copyElements(
        qSmem, {}, g.blockRows(), D, g.headDim,
        [&](Value row, Value col) {
          auto [h, sIdx] = rowHead(im.add(row0, row));
          return qAt(h, sIdx, col);
        },
        q);
    return;
  }
  if (g.qInShared()) {
    int64_t chunksPerRow = D / 8;
    int64_t chunks = g.blockRows() * chunksPerRow;
    int64_t perThread = (chunks + g.threads() - 1) / g.threads();
    SmallVector<Value> tokens;
    for (int64_t c = 0; c < perThread; ++c) {
      Value e = im.min(im.add(tid, c * g.threads()), im.c(chunks - 1));
      Value row = im.div(e, chunksPerRow);
      Value col = im.mul(im.rem(e, chunksPerRow), 8);
      auto [h, sIdx] = rowHead(im.add(row0, row));
      SmallVector<Value> dst = {row, col};
      if (g.wgmma) {
        auto [block, swizzled] = swizzledColumn(row, col);
        dst = {block, row, swizzled};
      }
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, tokenTy, qSmem, dst, q, qAt(h, sIdx, col), b.getIndexAttr(8),
          Value(), b.getUnitAttr()));
    }
    qGroup = nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenTy, tokens);
    return;
  }
  auto [hLo, sLo] = heads[0];
  auto [hHi, sHi] = heads[1];
  for (int64_t kc = 0; kc < kSteps; ++kc) {
    Value c0 = im.add(colPair, kc * 16), c1 = im.add(colPair, kc * 16 + 8);
    qFrag[kc] = {loadPair(q, qAt(hLo, sLo, c0)),
                 loadPair(q, qAt(hHi, sHi, c0))};
    if (16 * kc + 8 == D)
      continue; // k8: the low half only
    qFrag[kc].append(
        {loadPair(q, qAt(hLo, sLo, c1)), loadPair(q, qAt(hHi, sHi, c1))});
  }
}

Value FlashKernelEmitter::clampedTile(Value i) {
  return kvTile(
      im.add(myLo, im.max(im.min(i, im.sub(numTiles, im.c(1))), im.c(0))));
}

void FlashKernelEmitter::emitPrologue() {
  // Prologue: the first `stages - 1` tiles in flight. Indices past the
  // block's range re-read its last tile (uniform group counting; a block
  // without tiles reads tile myLo, which is in bounds).
  const int64_t S = g.stages;
  if (g.tma) {
    // Q (cp.async) landed and is visible to the tensor cores.
    nvgpu::DeviceAsyncWaitOp::create(b, qGroup, b.getI32IntegerAttr(0));
    fenceProxyAsync();
    gpu::BarrierOp::create(b);
    for (int64_t j = 0; j < S - 1; ++j)
      ifOwned(im.c(j),
              [&] { loadTileTma(kvTile(im.add(myLo, im.c(j))), im.c(j)); });
    return;
  }
  for (int64_t j = 0; j < S - 1; ++j) {
    Value group = loadTile(clampedTile(im.c(j)), im.c(j));
    if (!firstGroup)
      firstGroup = group;
  }
}

void FlashKernelEmitter::awaitTile(KvStep &st, Value it) {
  const int64_t S = g.stages;
  // Prefetch tile it + S - 1 into the stage read by iteration it - 1
  // (every warp left it at that iteration's closing barrier).
  Value ahead = im.add(it, im.c(S - 1));
  if (g.tma) {
    ifOwned(ahead, [&] {
      loadTileTma(kvTile(im.add(myLo, ahead)), im.rem(ahead, S));
    });
    // Use u = it / S of this stage completes mbarrier phase u; every
    // thread waits itself (the copy engine's writes need no barrier).
    waitTileTma(st.stage, i32(im.rem(im.div(it, S), 2)));
    return;
  }
  Value newest = loadTile(clampedTile(ahead), im.rem(ahead, S));
  // All but the newest S - 1 groups done: this tile (and Q) have landed
  // for this thread's copies; the barrier makes everyone's visible.
  nvgpu::DeviceAsyncWaitOp::create(b, newest, b.getI32IntegerAttr(S - 1));
  if (g.wgmma) {
    // The tensor cores read shared memory through the async proxy:
    // order this thread's landed copies before it, then the barrier.
    fenceProxyAsync();
  }
  gpu::BarrierOp::create(b);
}

SmallVector<Value> FlashKernelEmitter::kvIndices(Value key, Value col) {
  switch (g.kvForm) {
  case GpuKvForm::Dense:
    return at(batch, kvHead, key, col);
  case GpuKvForm::Contiguous:
    return {batch, kvHead, key, col};
  case GpuKvForm::PagedNHD:
  case GpuKvForm::PagedHND:
    break;
  }
  // Keys past the sequence would read block-table entries that name no
  // page: stay on the sequence's last key (or its first page when empty),
  // and keep the page id inside the pool whatever the table says.
  Value last = im.max(im.sub(len, im.c(1)), im.c(0));
  Value k0 = im.min(key, last);
  Value entry = memref::LoadOp::create(
      b, blockTable, ValueRange{batch, im.div(k0, g.pageSize)});
  Value lastPage = g.dynPages ? im.sub(numPagesSize, 1) : im.c(g.numPages - 1);
  Value page = im.max(im.min(i32ToIndex(entry), lastPage), im.c(0));
  Value slot = im.rem(k0, g.pageSize);
  if (g.kvForm == GpuKvForm::PagedNHD)
    return {page, slot, kvHead, col};
  return {page, kvHead, slot, col};
}

Value FlashKernelEmitter::loadTile(Value tile, Value stage) {
  auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  SmallVector<Value> tokens;
  Value keyBase = im.mul(tile, g.tileKv);
  if (g.elementLoads()) {
    // Rows that are not 16-byte aligned: plain loads and stores, zero
    // columns up to the padded dims; an empty group keeps the counting of
    // the cp.async waits.
    for (auto [mem, smem, cols, padCols] :
         {std::tuple{k, kSmem, g.headDim, g.dPad()},
          std::tuple{v, vSmem, g.vDim(), g.dvPad()}})
      copyElements(
          smem, {stage}, g.tileKv, padCols, cols,
          [&](Value row, Value col) {
            return kvIndices(im.min(im.add(keyBase, row), lastKey()), col);
          },
          mem);
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenTy, tokens);
  }
  if (g.vDim() == g.headDim) {
    copyTileChunks(tokens, keyBase, stage, g.headDim, {{k, kSmem}, {v, vSmem}});
  } else {
    copyTileChunks(tokens, keyBase, stage, g.headDim, {{k, kSmem}});
    copyTileChunks(tokens, keyBase, stage, g.vDim(), {{v, vSmem}});
  }
  return nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenTy, tokens);
}

void FlashKernelEmitter::copyTileChunks(
    SmallVectorImpl<Value> &tokens, Value keyBase, Value stage, int64_t dim,
    ArrayRef<std::pair<Value, Value>> buffers) {
  int64_t chunksPerRow = dim / 8; // 16-byte copies
  int64_t chunks = g.tileKv * chunksPerRow;
  int64_t perThread = (chunks + g.threads() - 1) / g.threads();
  auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  for (int64_t c = 0; c < perThread; ++c) {
    // Threads past the last chunk copy it again (same bytes, same place)
    // rather than branching around the copy.
    Value e = im.min(im.add(tid, c * g.threads()), im.c(chunks - 1));
    Value row = im.div(e, chunksPerRow);
    Value col = im.mul(im.rem(e, chunksPerRow), 8);
    // Rows past the end re-read the last key: always in bounds, and
    // masked out of the scores.
    Value key = im.min(im.add(keyBase, row), lastKey());
    SmallVector<Value> src = kvIndices(key, col);
    SmallVector<Value> dst = {stage, row, col};
    if (g.wgmma) {
      auto [block, swizzled] = swizzledColumn(row, col);
      dst = {stage, block, row, swizzled};
    }
    for (auto [mem, smem] : buffers)
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, tokenTy, smem, dst, mem, src, b.getIndexAttr(8),
          /*srcElements=*/Value(), b.getUnitAttr()));
  }
}
