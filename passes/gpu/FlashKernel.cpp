//===- FlashKernel.cpp - the flash kernel: driver and KV loop -------------===//
//
// Emits the flash kernel at the level of warps and mma fragments: the
// fragment layouts of mma.sync.m16n8k16 decide which thread holds which
// score, so the kernel is written directly in terms of them (ldmatrix for
// K and Vᵀ, score accumulators reused as the A operand of P·V) rather than
// through vector.contract, which cannot express the register-resident P.
//
// Fragment facts used throughout (lane = thread % 32, PTX ISA
// "mma.m16n8k16"):
//   A (16x16, row): a0a1 (row lane/4, k 2(lane%4)+{0,1}), a2a3 (row +8),
//                   a4a5 (k +8), a6a7 (row +8, k +8)
//   B (16x8, col):  b0b1 (k 2(lane%4)+{0,1}, n lane/4), b2b3 (k +8)
//   C (16x8):       c0c1 (row lane/4, n 2(lane%4)+{0,1}), c2c3 (row +8)
// ldmatrix gives lane l the pair (row l/4, cols 2(l%4)+{0,1}) of each 8x8
// matrix (rows addressed by lanes 8i..8i+7 for matrix i), or with .trans the
// pair (rows 2(l%4)+{0,1}, col l/4): K rows read plainly and V rows read
// transposed are both B fragments.
//
// The phases (FlashKernel.h lists the file of each):
//   arguments -> shared-memory plan -> the block's rows and keys -> Q ->
//   prologue (first tiles in flight) -> per KV tile: wait for the tile,
//   S = Q·Kᵀ, scores -> probabilities, O += P·V -> store the rows (or
//   merge the key warps, then store).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

void FlashKernelEmitter::emit(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  emitBody(entry);
  gpu::ReturnOp::create(b);
}

void FlashKernelEmitter::emitPacked(gpu::GPUFuncOp func,
                                    const PackedItem &item) {
  packedItem = item;
  emitBody(func.getBody().front());
}

void FlashKernelEmitter::emitBody(Block &entry) {
  bindArguments(entry);
  bindThreadIds();
  if (g.dropsWeights())
    loadDropoutState();
  planSharedMemory();
  chooseKeyRange();
  mapThreadRows();
  loadQ();
  emitPrologue();
  SmallVector<Value> res = emitKvLoop();

  // Drain the copies still in flight before the bytes are reused.
  if (firstGroup) // one stage: every group was waited for in the loop
    nvgpu::DeviceAsyncWaitOp::create(b, firstGroup, b.getI32IntegerAttr(0));
  gpu::BarrierOp::create(b);
  Value r16 = im.div(lane, 4);
  if (g.keyWarps == 1)
    storeRows(res);
  else
    mergeKeyWarps(res, r16);
}

void FlashKernelEmitter::bindArguments(Block &entry) {
  unsigned argNo = 0;
  q = entry.getArgument(argNo++);
  k = entry.getArgument(argNo++);
  v = entry.getArgument(argNo++);
  if (g.hasBias())
    bias = entry.getArgument(argNo++);
  if (g.hasBoolMask())
    boolMask = entry.getArgument(argNo++);
  if (g.hasSegments) {
    qSegments = entry.getArgument(argNo++);
    kvSegments = entry.getArgument(argNo++);
  }
  if (g.blockSparse()) {
    kvNumBlocks = entry.getArgument(argNo++);
    kvBlockLists = entry.getArgument(argNo++);
  }
  if (g.hasKvLengths)
    kvLengths = entry.getArgument(argNo++);
  if (g.hasDropoutState)
    dropoutState = entry.getArgument(argNo++);
  if (g.packed)
    queryOffsets = entry.getArgument(argNo++);
  if (g.paged())
    blockTable = entry.getArgument(argNo++);
  if (g.hasSinks)
    sinks = entry.getArgument(argNo++);
  if (g.splits == 1) {
    out = entry.getArgument(argNo++);
    if (g.hasLse)
      lseOut = entry.getArgument(argNo++);
  }
  if (g.splits > 1 || g.runTimeSplits) {
    partOut = entry.getArgument(argNo++);
    partLse = entry.getArgument(argNo++);
  }
  if (g.tma) {
    auto address = [&](Value map) -> Value {
      return arith::IndexCastUIOp::create(
          b, b.getI64Type(),
          memref::ExtractAlignedPointerAsIndexOp::create(b, map));
    };
    tensorMapK = address(entry.getArgument(argNo++));
    tensorMapV = address(entry.getArgument(argNo++));
  }
  if (g.dynamicSizes())
    bindRunTimeViews(entry, argNo);
}

OpFoldResult FlashKernelEmitter::sizeB() const {
  return g.dynBatch ? OpFoldResult(batchSize) : b.getIndexAttr(g.batch);
}
OpFoldResult FlashKernelEmitter::sizeSq() const {
  return g.dynQLen ? OpFoldResult(qLenSize) : b.getIndexAttr(g.qLen);
}
OpFoldResult FlashKernelEmitter::sizeSkv() const {
  return g.dynKvLen ? OpFoldResult(kvLenSize) : b.getIndexAttr(g.kvLen);
}

OpFoldResult FlashKernelEmitter::seqQueries() const {
  return g.packed ? OpFoldResult(packedItem.queries) : sizeSq();
}

SmallVector<Value> FlashKernelEmitter::qAt(Value h, Value s, Value d) {
  if (g.packed)
    return {im.add(packedItem.firstRow, s), h, d};
  return at(batch, h, s, d);
}

SmallVector<Value> FlashKernelEmitter::lseAt(Value h, Value s) {
  if (g.packed)
    return {im.add(packedItem.firstRow, s), h};
  return {batch, h, s};
}

Value FlashKernelEmitter::rowCount() {
  if (g.packed)
    return im.mul(packedItem.queries, g.group);
  return g.dynQLen ? im.mul(qLenSize, g.group) : im.c(g.rows());
}
Value FlashKernelEmitter::lastRow() {
  return g.dynQLen || g.packed ? im.sub(rowCount(), 1) : im.c(g.rows() - 1);
}
Value FlashKernelEmitter::lastKey() {
  return g.dynKvLen ? im.sub(kvLenSize, 1) : im.c(g.kvLen - 1);
}

Value FlashKernelEmitter::runTimeView(Value base,
                                      ArrayRef<OpFoldResult> sizes) {
  return denseView(b, base, sizes);
}

void FlashKernelEmitter::bindRunTimeViews(Block &entry, unsigned argNo) {
  batchSize = entry.getArgument(argNo++);
  qLenSize = entry.getArgument(argNo++);
  kvLenSize = entry.getArgument(argNo++);
  if (g.paged()) {
    numPagesSize = entry.getArgument(argNo++);
    tableWidthSize = entry.getArgument(argNo++);
  }
  if (g.runTimeSplits)
    numSplits = entry.getArgument(argNo++);
  auto view = [&](Value &mem, ArrayRef<OpFoldResult> sizes) {
    if (mem && cast<MemRefType>(mem.getType()).getRank() == 0)
      mem = runTimeView(mem, sizes);
  };
  OpFoldResult B = sizeB(), Sq = sizeSq(), Skv = sizeSkv();
  OpFoldResult H = b.getIndexAttr(g.heads), Hkv = b.getIndexAttr(g.kvHeads),
               D = b.getIndexAttr(g.headDim), Dv = b.getIndexAttr(g.vDim());
  SmallVector<OpFoldResult> qSizes =
      g.bshd ? SmallVector<OpFoldResult>{B, Sq, H, D}
             : SmallVector<OpFoldResult>{B, H, Sq, D};
  SmallVector<OpFoldResult> kvSizes;
  OpFoldResult pages = g.dynPages ? OpFoldResult(numPagesSize)
                                  : b.getIndexAttr(g.numPages),
               page = b.getIndexAttr(g.pageSize);
  switch (g.kvForm) {
  case GpuKvForm::Dense:
    kvSizes = g.bshd ? SmallVector<OpFoldResult>{B, Skv, Hkv, D}
                     : SmallVector<OpFoldResult>{B, Hkv, Skv, D};
    break;
  case GpuKvForm::Contiguous:
    kvSizes = {B, Hkv, Skv, D};
    break;
  case GpuKvForm::PagedNHD:
    kvSizes = {pages, page, Hkv, D};
    break;
  case GpuKvForm::PagedHND:
    kvSizes = {pages, Hkv, page, D};
    break;
  }
  if (g.paged())
    view(blockTable, {B, g.dynKvLen ? OpFoldResult(tableWidthSize)
                                    : b.getIndexAttr(g.pagesPerSeq)});
  view(q, g.packed ? SmallVector<OpFoldResult>{Sq, H, D} : qSizes);
  view(k, kvSizes);
  kvSizes.back() = Dv;
  view(v, kvSizes);
  // Packed queries (mixed batches): [T, H, D] rows, T the Sq parameter.
  if (g.packed)
    qSizes = {Sq, H, D};
  qSizes.back() = Dv;
  view(out, qSizes);
  if (g.packed)
    view(lseOut, {Sq, H});
  else
    view(lseOut, {B, H, Sq});
  view(kvLengths, {B});
  if (queryOffsets)
    view(queryOffsets, {im.add(im.v(B), 1)});
  if (g.runTimeSplits) {
    // Partials: one row per (batch, KV head, row, split); the outer size
    // only bounds the view.
    Value partRows =
        im.mul(im.mul(im.mul(im.v(B), g.kvHeads), rowCount()), numSplits);
    view(partOut, {partRows, Dv});
    view(partLse, {partRows});
  }
}

Value FlashKernelEmitter::partialRow(Value row) {
  // Row `row` of this block's (batch, KV head) group, split `split`.
  if (!g.runTimeSplits)
    return im.add(im.mul(im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead),
                                       g.rows()),
                                row),
                         g.splits),
                  split);
  return im.add(im.mul(im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead),
                                     rowCount()),
                              row),
                       numSplits),
                split);
}

void FlashKernelEmitter::ifSplit(function_ref<void(bool toPartials)> store) {
  if (!g.runTimeSplits) {
    store(g.splits > 1);
    return;
  }
  // One split: the rows are final, stored as the unsplit kernel does.
  Value several = im.lt(im.c(1), numSplits);
  auto branch = scf::IfOp::create(b, several, /*withElse=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(branch.thenBlock());
  store(true);
  b.setInsertionPointToStart(branch.elseBlock());
  store(false);
}

void FlashKernelEmitter::bindThreadIds() {
  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  lane = im.rem(tid, 32);
  warp = im.div(tid, 32);
  rw = im.div(warp, g.keyWarps);
  kw = im.rem(warp, g.keyWarps);
  if (g.packed) {
    // The caller found the block's sequence and row block (no splits).
    rowBlock = packedItem.rowBlock;
    split = im.c(0);
    kvHead = gpu::BlockIdOp::create(b, gpu::Dimension::y);
    batch = packedItem.batch;
    return;
  }
  Value bx = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  // Causal row blocks near the end see the most keys: schedule them first
  // so the short ones fill the tail of the grid.
  Value lastBlock = g.dynQLen ? im.sub(im.ceilDiv(rowCount(), g.blockRows()), 1)
                              : im.c(g.rowBlocks() - 1);
  if (g.runTimeSplits) {
    rowBlock = im.sub(lastBlock, im.div(bx, numSplits));
    split = im.rem(bx, numSplits);
  } else {
    rowBlock = im.sub(lastBlock, im.div(bx, g.splits));
    split = im.rem(bx, g.splits);
  }
  kvHead = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
}

void FlashKernelEmitter::planSharedMemory() {
  // Shared memory: [stages][tileKv][D + pad] for K, then V, then (when Q is
  // staged) [blockRows][D + pad] for Q; after the KV loop the same bytes
  // hold the per-warp states being merged.
  MLIRContext *ctx = b.getContext();
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Type et = elemType(ctx, g);
  raw = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), nullptr, wg));
  int64_t tileBytes = g.stages * g.tileKv * g.smemRowElems() * 2;
  int64_t tileBytesV = g.stages * g.tileKv * g.smemRowElemsV() * 2;
  Value pad = im.c(0);
  if (g.wgmma) {
    // Swizzle atoms must start 1024-byte aligned in the shared window; the
    // dynamic allocation is only 16-byte aligned, so skip to the next atom
    // (sharedBytes() reserves the slack).
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, raw);
    pad = im.rem(im.sub(im.c(GpuFlashGeometry::kSwizzleAtomBytes),
                        im.rem(base, GpuFlashGeometry::kSwizzleAtomBytes)),
                 GpuFlashGeometry::kSwizzleAtomBytes);
    smemBase = im.add(base, pad);
    const int64_t cb = g.colBlocks(), sw = GpuFlashGeometry::kSwizzleElems;
    auto tileTy =
        MemRefType::get({g.stages, cb, g.tileKv, sw}, et, nullptr, wg);
    kSmem = memref::ViewOp::create(b, tileTy, raw, pad, ValueRange{});
    vSmem = memref::ViewOp::create(b, tileTy, raw, im.add(pad, im.c(tileBytes)),
                                   ValueRange{});
    qSmem = memref::ViewOp::create(
        b, MemRefType::get({cb, g.blockRows(), sw}, et, nullptr, wg), raw,
        im.add(pad, im.c(2 * tileBytes)), ValueRange{});
    if (g.tma)
      initTmaBarriers();
  } else {
    auto tileTy = [&](int64_t rowElems) {
      return MemRefType::get({g.stages, g.tileKv, rowElems}, et, nullptr, wg);
    };
    kSmem = memref::ViewOp::create(b, tileTy(g.smemRowElems()), raw, im.c(0),
                                   ValueRange{});
    vSmem = memref::ViewOp::create(b, tileTy(g.smemRowElemsV()), raw,
                                   im.c(tileBytes), ValueRange{});
    if (g.qInShared())
      qSmem = memref::ViewOp::create(
          b,
          MemRefType::get({g.blockRows(), g.smemRowElems()}, et, nullptr, wg),
          raw, im.c(tileBytes + tileBytesV), ValueRange{});
  }
  if (g.blockSparse())
    sparseSmem = memref::ViewOp::create(
        b, MemRefType::get({g.sparseBytes() / 4}, b.getI32Type(), nullptr, wg),
        raw, im.add(pad, im.c(g.sparseOffset())), ValueRange{});
  const int64_t warpRows = g.warpRows();
  auto oTy = MemRefType::get({g.warps(), warpRows, g.dvPad()}, b.getF32Type(),
                             nullptr, wg);
  auto mlTy =
      MemRefType::get({g.warps(), warpRows}, b.getF32Type(), nullptr, wg);
  int64_t oBytes = g.warps() * warpRows * g.dvPad() * 4;
  oSmem = memref::ViewOp::create(b, oTy, raw, im.c(0), ValueRange{});
  mSmem = memref::ViewOp::create(b, mlTy, raw, im.c(oBytes), ValueRange{});
  lSmem = memref::ViewOp::create(
      b, mlTy, raw, im.c(oBytes + g.warps() * warpRows * 4), ValueRange{});
}

void FlashKernelEmitter::chooseKeyRange() {
  const int64_t G = g.group;
  // Which rows and keys this block sees.
  row0 = im.mul(rowBlock, g.blockRows());
  len = g.dynKvLen ? kvLenSize : im.c(g.kvLen);
  if (kvLengths) {
    Value l = i32ToIndex(memref::LoadOp::create(b, kvLengths, batch));
    len = im.max(im.min(l, len), im.c(0));
  }
  const MaskSpec &mask = g.mask;
  // Cache attention: the queries are the sequence's last Sq tokens.
  qOff = g.endAlignedQueries ? im.sub(len, im.v(seqQueries()))
                             : im.c(mask.qOffset);
  qlo = im.add(im.div(row0, G), qOff);
  qhi = im.add(im.div(im.min(im.add(row0, g.blockRows() - 1), lastRow()), G),
               qOff);
  Value hiKey = len;
  if (mask.causal)
    hiKey = im.min(hiKey, im.add(qhi, 1));
  if (mask.windowRight >= 0 && mask.globalTokens == 0)
    hiKey = im.min(hiKey, im.add(qhi, mask.windowRight + 1));
  Value loKey = im.c(0);
  if (mask.windowLeft >= 0 && mask.globalTokens == 0)
    loKey = im.max(im.c(0), im.sub(qlo, im.c(mask.windowLeft)));
  hiKey = im.max(hiKey, loKey);
  Value tileLo = im.div(loKey, g.tileKv);
  Value tileHi = im.ceilDiv(hiKey, g.tileKv);
  if (g.blockSparse()) { // the tiles of the listed blocks
    tileLo = im.c(0);
    tileHi = buildBlockList(loKey, hiKey);
  }
  Value perSplit = g.runTimeSplits
                       ? im.ceilDiv(im.sub(tileHi, tileLo), numSplits)
                       : im.ceilDiv(im.sub(tileHi, tileLo), g.splits);
  myLo =
      im.min(im.add(tileLo, arith::MulIOp::create(b, split, perSplit)), tileHi);
  Value myHi = im.min(im.add(myLo, perSplit), tileHi);
  numTiles = im.sub(myHi, myLo);
}

std::pair<Value, Value> FlashKernelEmitter::rowHead(Value row) {
  const int64_t G = g.group;
  Value r = im.min(row, lastRow());
  return std::pair{im.add(im.mul(kvHead, G), im.rem(r, G)), im.div(r, G)};
}

Value FlashKernelEmitter::mTile(int64_t mt) {
  return im.add(im.mul(im.div(warp, 4), g.warpRowTiles), im.c(mt));
}

Value FlashKernelEmitter::threadRow(int64_t mt, int64_t half) {
  Value inTile = im.add(im.div(lane, 4), im.c(half * 8));
  if (g.wgmma)
    return im.add(im.add(row0, im.mul(mTile(mt), 64)),
                  im.add(im.mul(im.rem(warp, 4), 16), inTile));
  return im.add(warpRow0, im.add(inTile, im.c(mt * 16)));
}

void FlashKernelEmitter::mapThreadRows() {
  // This thread's rows: lane/4 and lane/4 + 8 of each of its m tiles.
  // mma.sync: warp w owns rows [w * warpRows, (w + 1) * warpRows), m tile
  // by m tile; wgmma: M tile mt is rows [64 mt, 64 mt + 64) of the block,
  // of which warp w of the warpgroup holds [16 w, 16 w + 16).
  warpRow0 = im.add(row0, im.mul(rw, g.warpRows()));
  colPair = im.mul(im.rem(lane, 4), 2);
  for (int64_t mt = 0; mt < g.warpRowTiles; ++mt)
    for (int64_t half = 0; half < 2; ++half) {
      heads.push_back(rowHead(threadRow(mt, half)));
      qpos.push_back(im.add(heads.back().second, qOff));
    }
}

SmallVector<Value> FlashKernelEmitter::emitKvLoop() {
  const int64_t MT = g.warpRowTiles, oTiles = g.dvPad() / 8;
  // Loop state: per (m tile, half) row max and partial sum, O fragments.
  const int64_t halves = 2 * MT;
  SmallVector<Value> init;
  for (int64_t i = 0; i < halves; ++i)
    init.push_back(cf(kNegInf));
  for (int64_t i = 0; i < halves; ++i)
    init.push_back(cf(0));
  for (int64_t i = 0; i < MT * oTiles * 4; ++i)
    init.push_back(cf(0));
  auto loop = scf::ForOp::create(b, im.c(0), numTiles, im.c(1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value it = loop.getInductionVar();
  SmallVector<Value> carried(loop.getRegionIterArgs());
  KvStep st;
  st.m.assign(carried.begin(), carried.begin() + halves);
  st.l.assign(carried.begin() + halves, carried.begin() + 2 * halves);
  st.o.assign(MT, SmallVector<SmallVector<Value>>(oTiles));
  for (int64_t mt = 0; mt < MT; ++mt)
    for (int64_t t = 0; t < oTiles; ++t) {
      auto first = carried.begin() + 2 * halves + (mt * oTiles + t) * 4;
      st.o[mt][t].assign(first, first + 4);
    }
  st.tile = kvTile(im.add(myLo, it), &st.everyRowListed);
  st.stage = im.rem(it, g.stages);
  awaitTile(st, it);
  emitKvStep(st);
  // Every warp is done with this stage before the next iteration's copies
  // overwrite it.
  gpu::BarrierOp::create(b);

  SmallVector<Value> yield(st.newM);
  yield.append(st.l.begin(), st.l.end());
  llvm::append_range(yield, flatten(st.o));
  scf::YieldOp::create(b, yield);
  return SmallVector<Value>(loop.getResults());
}

void FlashKernelEmitter::emitKvStep(KvStep &st) {
  const int64_t MT = g.warpRowTiles, warpKeys = g.warpKeys();
  const int64_t sTiles = warpKeys / 8, halves = 2 * MT;
  // S = Q·Kᵀ over this warp's keys of the tile; s[mt][t] holds 4 f32.
  st.keyOff = im.mul(kw, warpKeys);
  st.s.assign(MT, SmallVector<SmallVector<Value>>(sTiles));
  st.tileKeyBase = im.add(im.mul(st.tile, g.tileKv), im.mul(kw, warpKeys));
  st.tileKey0 = im.mul(st.tile, g.tileKv);
  st.full = tileFullyVisible(st);
  st.scaleLog2 = cf((g.prescaled() ? 1.0f : g.scale) * kLog2e);
  st.newM.assign(halves, Value());
  st.corr.assign(halves, Value());
  st.sum.assign(halves, Value());
  for (auto &rowTile : st.s)
    for (auto &tileS : rowTile)
      tileS = {cf(0), cf(0), cf(0), cf(0)};
  st.m8 = im.div(lane, 8);
  st.l8 = im.rem(lane, 8);
  if (g.wgmma) {
    scoresOnWgmma(st);
    // O += P·V, m tile by m tile as each one's S lands.
    pvOnWgmma(st);
    return;
  }
  scoresOnMmaSync(st);
  scoresToProbabilities(st, 0, MT);
  pvOnMmaSync(st);
}

gpu::GPUFuncOp mlir::attn::emitFlashKernel(OpBuilder &ob, Location loc,
                                           const GpuFlashGeometry &g,
                                           StringRef name) {
  MLIRContext *ctx = ob.getContext();
  SmallVector<Type> params = {gpuQueryType(ctx, g), gpuKvType(ctx, g),
                              gpuValueType(ctx, g)};
  if (g.hasBias())
    params.push_back(MemRefType::get(g.biasShape, g.biasType));
  if (g.hasBoolMask())
    params.push_back(MemRefType::get(g.boolMaskShape, ob.getI1Type()));
  if (g.hasSegments)
    params.append({MemRefType::get({g.batch, g.qLen}, ob.getI32Type()),
                   MemRefType::get({g.batch, g.kvLen}, ob.getI32Type())});
  if (g.blockSparse())
    params.append({gpuBlockCountsType(ctx, g), gpuBlockIndicesType(ctx, g)});
  if (g.hasKvLengths)
    params.push_back(gpuLengthsType(ctx, g));
  if (g.hasDropoutState)
    params.push_back(gpuDropoutStateType(ctx));
  if (g.paged())
    params.push_back(gpuBlockTableType(ctx, g));
  if (g.hasSinks)
    params.push_back(gpuSinksType(ctx, g));
  if (g.splits == 1) {
    params.push_back(gpuOutputType(ctx, g));
    if (g.hasLse)
      params.push_back(gpuLseType(ctx, g));
  }
  if (g.splits > 1 || g.runTimeSplits) {
    params.push_back(gpuScratchOutType(ctx, g));
    params.push_back(gpuScratchLseType(ctx, g));
  }
  if (g.tma)
    params.append({gpuTensorMapType(ctx), gpuTensorMapType(ctx)});
  if (g.dynamicSizes()) {
    for (Type &t : params)
      t = gpuKernelParamType(cast<MemRefType>(t));
    params.append(g.numSizeParams(), ob.getIndexType());
    if (g.runTimeSplits)
      params.push_back(ob.getIndexType());
  }
  auto func = createKernelFunc(ob, loc, name, params, g.threads());
  ImplicitLocOpBuilder b(loc, ob);
  FlashKernelEmitter(b, g).emit(func);
  return func;
}
